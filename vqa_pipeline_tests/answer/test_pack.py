"""Evidence packs built from real rows of the sample windows table."""

from __future__ import annotations

import pytest

from vqa_pipeline.answer.pack import boundary_offsets, build_pack, estimate_tokens, merge_duplicates, row_lines
from vqa_pipeline.retrieval.search import fetch_neighbours, fetch_windows


@pytest.fixture()
def rows(sample, sample_table):
    def get(*refs):
        ids = [sample.window_of(name, i) for name, i in refs]
        by_id = fetch_windows(sample_table, ids)
        return [by_id[i] for i in ids]

    return get


def test_lines_are_time_coded_and_typed(rows):
    [row] = rows(("kitchen.mp4", 5))
    assert [ln.format() for ln in row_lines(row)] == ["[10.2-11.8s] asr: preheat the oven to 180 degrees"]


def test_grouped_by_video_best_first_and_time_ordered(rows, sample):
    pack = build_pack(rows(("lecture.mp4", 7), ("kitchen.mp4", 5), ("lecture.mp4", 2)))
    videos = pack.videos()
    assert [v[0] for v in videos] == [sample.video_id("lecture.mp4"), sample.video_id("kitchen.mp4")]
    lecture = videos[0][2]
    assert [ln.start_s for ln in lecture] == sorted(ln.start_s for ln in lecture)
    assert lecture[0].text.startswith("plants convert")
    text = pack.render()
    assert text.splitlines()[0] == f"== lecture.mp4 (video {sample.video_id('lecture.mp4')}) =="
    assert "== kitchen.mp4" in text
    assert pack.strings()[0].startswith("lecture.mp4 [4.1-5.9s] asr: plants convert")


def test_duplicates_spanning_windows_are_merged(rows):
    pack = build_pack(rows(("lecture.mp4", 6), ("lecture.mp4", 7), ("kitchen.mp4", 2), ("kitchen.mp4", 3)))
    room = [ln for ln in pack.lines if ln.text == "ROOM 204"]
    assert len(room) == 1 and (room[0].start_s, room[0].end_s) == (12.0, 16.0)
    assert len(room[0].window_ids) == 2
    recipe = [ln for ln in pack.lines if ln.kind == "ocr" and "RECIPE" in ln.text]
    assert len(recipe) == 1 and (recipe[0].start_s, recipe[0].end_s) == (4.0, 8.0)


def test_same_text_far_apart_is_not_merged(rows):
    [a] = row_lines(rows(("kitchen.mp4", 5))[0])
    b = type(a)(a.video_id, a.source, 30.0, 31.0, a.kind, a.text)
    assert len(merge_duplicates([a, b])) == 2


@pytest.mark.parametrize("budget", [0, 20, 40, 60, 100, 1500])
def test_budget_is_respected_without_cutting_lines(rows, budget):
    ranked = rows(("station.mp4", 4), ("station.mp4", 0), ("lecture.mp4", 2), ("kitchen.mp4", 9), ("kitchen.mp4", 1))
    every = {ln.text for r in ranked for ln in row_lines(r)}
    pack = build_pack(ranked, budget_tokens=budget)
    assert pack.used_tokens <= budget
    assert pack.used_tokens == estimate_tokens(pack.render())
    assert all(ln.text in every for ln in pack.lines)  # whole lines only
    if budget >= 40:
        # The best window's line is kept first.
        assert any("delayed by twenty minutes" in ln.text for ln in pack.lines)
    if budget < 100:
        assert pack.dropped > 0
    if budget == 0:
        assert pack.lines == () and pack.render() == ""


def test_neighbour_offsets_follow_lines_touching_edges(rows):
    kitchen5, lecture5, lecture6 = rows(("kitchen.mp4", 5), ("lecture.mp4", 5), ("lecture.mp4", 6))
    assert boundary_offsets(kitchen5) == ()
    assert boundary_offsets(lecture5) == (1,)  # "... on the 3rd of June" ends at the window end
    assert boundary_offsets(lecture6) == (-1, 1)  # speech from 12.0 s; OCR shown until 16 s


def test_neighbours_come_after_their_anchor(rows, sample_table):
    [lecture5] = rows(("lecture.mp4", 5))
    near = fetch_neighbours(sample_table, [lecture5], (1,))
    pack = build_pack([lecture5], near.values())
    assert [ln.text for ln in pack.lines][:2] == ["the final exam will be held on the 3rd of June", "in room 204"]
    # With room for one line only, the ranked window's line wins.
    tight = build_pack([lecture5], near.values(), budget_tokens=estimate_tokens(pack.render().split("\n")[0]) + 20)
    assert [ln.text for ln in tight.lines] == ["the final exam will be held on the 3rd of June"]
