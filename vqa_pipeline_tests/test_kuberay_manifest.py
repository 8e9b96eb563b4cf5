"""deploy/kuberay/raycluster.yaml parses and holds what the pipeline relies on (no cluster here)."""

from pathlib import Path

import pytest

from vqa_pipeline_tests.needs import require_module

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "kuberay" / "raycluster.yaml"


@pytest.fixture(scope="module")
def cluster() -> dict:
    yaml = require_module("yaml")
    return yaml.safe_load(MANIFEST.read_text())


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"]}


def test_it_is_a_ray_cluster_of_the_pinned_ray(cluster):
    import ray

    assert cluster["apiVersion"] == "ray.io/v1" and cluster["kind"] == "RayCluster"
    assert cluster["metadata"]["name"]
    assert cluster["spec"]["rayVersion"] == ray.__version__  # nodes and drivers must run the same Ray


def test_the_head_offers_no_cpu_to_the_extractors(cluster):
    head = cluster["spec"]["headGroupSpec"]
    params = head["rayStartParams"]
    assert params["num-cpus"] == "0"
    assert params["dashboard-host"] == "0.0.0.0"  # KubeRay's probes
    assert int(params["object-store-memory"]) > 0
    (container,) = head["template"]["spec"]["containers"]
    assert {"gcs", "dashboard", "client"} <= {p["name"] for p in container["ports"]}


def test_the_workers_reserve_what_their_pods_are_given(cluster):
    (group,) = cluster["spec"]["workerGroupSpecs"]
    assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    (container,) = group["template"]["spec"]["containers"]
    # num-cpus equals the pod's CPU limit: actors reserving CPUs never oversubscribe a pod
    assert group["rayStartParams"]["num-cpus"] == str(container["resources"]["limits"]["cpu"])
    assert int(group["rayStartParams"]["object-store-memory"]) > 0


def test_every_pod_has_the_pipeline_env_and_the_model_cache(cluster):
    spec = cluster["spec"]
    pods = [spec["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in spec["workerGroupSpecs"]]
    images = set()
    for pod in pods:
        (container,) = pod["containers"]
        images.add(container["image"])
        env = _env(container)
        assert {"VQA_DB", "VQA_PROFILE", "HF_HOME", "HF_HUB_OFFLINE", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN"} <= set(env)
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"]  # one secret, never inline
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        volumes = {v["name"] for v in pod["volumes"]}
        assert set(mounts) <= volumes
        assert env["HF_HOME"]["value"].startswith(mounts["model-cache"]["mountPath"])
        assert mounts["dshm"]["mountPath"] == "/dev/shm"
    assert len(images) == 1  # one image, built by deploy/kuberay/Dockerfile
    assert (MANIFEST.parent / "Dockerfile").is_file()
