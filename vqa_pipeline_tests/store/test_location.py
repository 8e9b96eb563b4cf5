"""Where an index lives: folders stay folders, object-store URIs stay URIs, settings come from the
environment, and the files beside the tables round-trip through a real S3-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest

from vqa_pipeline.cli import build_parser
from vqa_pipeline.config import default_db_dir
from vqa_pipeline.store.location import DbLocation, ObjectFile, as_db, side_file, storage_options
from vqa_pipeline_tests.s3_server import start_s3_server

AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT", "AWS_ENDPOINT_URL_DYNAMODB",
            "DYNAMODB_ENDPOINT", "AWS_ALLOW_HTTP", "VQA_S3_RETRIES", "VQA_S3_RETRY_TIMEOUT")


@pytest.fixture
def clean_env(monkeypatch):
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_db_options_keep_uris_and_make_paths_of_folders(tmp_path):
    parser = build_parser()
    for argv in (["search", "q", "--db"], ["index", "x", "--db"], ["eval", "--devset", "d", "--db"],
                 ["tune", "--devset", "d", "--db"], ["list", "--db"], ["serve", "--db"], ["evidence", "v", "--db"]):
        args = parser.parse_args([*argv, "s3://bucket/some/prefix"])
        assert args.db == "s3://bucket/some/prefix", argv
    args = parser.parse_args(["doctor", "--db", "s3+ddb://b/p?ddbTableName=t"])
    assert args.health_db == "s3+ddb://b/p?ddbTableName=t"
    assert parser.parse_args(["list", "--db", str(tmp_path)]).db == tmp_path
    assert as_db("rel/db") == Path("rel/db")


def test_vqa_db_may_be_a_uri(clean_env, tmp_path):
    clean_env.setenv("VQA_DB", "s3://bucket/idx")
    assert default_db_dir() == "s3://bucket/idx"
    clean_env.setenv("VQA_DB", str(tmp_path / "db"))
    assert default_db_dir() == tmp_path / "db"


def test_storage_options_come_from_the_aws_variables(clean_env):
    clean_env.setenv("AWS_ACCESS_KEY_ID", "key")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    clean_env.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9001")
    opts = storage_options("s3+ddb://b/p?ddbTableName=t")
    assert opts["aws_access_key_id"] == "key" and opts["aws_secret_access_key"] == "secret"
    assert opts["endpoint"] == "http://127.0.0.1:9000" and opts["allow_http"] == "true"
    assert opts["dynamodb_endpoint"] == "http://127.0.0.1:9001"
    assert opts["region"] == "us-east-1"  # an S3-compatible server needs one; LanceDB has no default
    assert storage_options("/some/folder") == {}
    clean_env.setenv("AWS_ENDPOINT_URL", "https://minio.example")
    clean_env.setenv("AWS_REGION", "eu-west-1")
    opts = storage_options("s3://b/p")
    assert "allow_http" not in opts and opts["region"] == "eu-west-1"


def test_location_parts_and_side_files(tmp_path):
    loc = DbLocation.of("s3+ddb://bucket/a/b?ddbTableName=t")
    assert (loc.is_local, loc.bucket, loc.prefix, loc.commit_lock) == (False, "bucket", "a/b", True)
    f = side_file("s3+ddb://bucket/a/b?ddbTableName=t", "fusion.json")
    assert isinstance(f, ObjectFile) and str(f) == "s3://bucket/a/b/fusion.json"
    assert side_file(tmp_path, "fusion.json") == tmp_path / "fusion.json"
    assert DbLocation.of(tmp_path).is_local and not DbLocation.of(tmp_path).commit_lock


@pytest.mark.slow
def test_side_files_round_trip_on_a_real_server(clean_env, tmp_path):
    server = start_s3_server(tmp_path / "moto.log")
    try:
        server.create_bucket("vqa")
        for k, v in server.env().items():
            clean_env.setenv(k, v)
        f = side_file("s3://vqa/idx", "fusion.json")
        assert not f.is_file()
        f.write_text('{"method": "rrf"}\n')
        assert f.is_file() and side_file("s3://vqa/idx", "fusion.json").read_text() == '{"method": "rrf"}\n'
        assert "idx/fusion.json" in server.keys("vqa")
        assert isinstance(f, ObjectFile)
        f.unlink()
        assert not f.is_file()
    finally:
        server.stop()
