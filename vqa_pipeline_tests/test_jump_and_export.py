"""The pure parts of `vqa open` (times, player command lines) and of `vqa evidence --format`."""

import pytest

from vqa_pipeline.evidence_export import Cue, parse_kinds, speech_sentences, subtitle_cues, to_csv, to_srt, to_vtt
from vqa_pipeline.jump import parse_time, player_command, split_target


@pytest.mark.parametrize("text, seconds", [("12.5", 12.5), ("12.5s", 12.5), ("1:02", 62.0), ("01:02:03.5", 3723.5),
                                           ("0", 0.0), (".5", 0.5)])
def test_times(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["soon", "1:75", "-3", "1:2:3:4", ""])
def test_bad_times(text):
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text)


def test_targets_split_at_the_last_at_sign():
    assert split_target("fire_drill@12.5") == ("fire_drill", 12.5)
    assert split_target("/x/me@home/talk.mp4@1:02") == ("/x/me@home/talk.mp4", 62.0)
    assert split_target("3f2a-00006") == ("3f2a-00006", None)
    assert split_target("/x/me@home/talk.mp4") == ("/x/me@home/talk.mp4", None)


def test_an_at_sign_in_a_file_name_without_a_time():
    assert split_target("talk@2x.mp4") == ("talk@2x.mp4", None)
    assert split_target("talk@2x.mp4@1:02") == ("talk@2x.mp4", 62.0)
    assert split_target("talk@2x", is_video=lambda ref: ref == "talk@2x") == ("talk@2x", None)
    with pytest.raises(ValueError, match="not a time: 'soon'"):  # no such video: the time was the mistake
        split_target("fire_drill@soon", is_video=lambda ref: False)


def test_player_command_lines_start_at_the_second():
    assert player_command("mpv", "/v/a b.mp4", 12.5) == ["mpv", "--start=12.5", "/v/a b.mp4"]
    assert player_command("vlc", "/v/a.mp4", 62) == ["vlc", "--start-time=62", "/v/a.mp4"]
    assert player_command("ffplay", "/v/a.mp4", 3723.25) == ["ffplay", "-ss", "3723.25", "/v/a.mp4"]
    assert player_command("xdg-open", "/v/a.mp4", 9) == ["xdg-open", "/v/a.mp4"]
    assert player_command("mpv", "/v/a.mp4", 1e6)[1] == "--start=1000000"


def line(start, end, text, kind="asr"):
    return {"start": start, "end": end, "kind": kind, "text": text}


def test_per_window_speech_lines_join_into_sentences():
    lines = [line(0.5, 2.0, "The oven is"), line(2.0, 4.0, "at 180 degrees."), line(4.0, 5.5, "Now stir"),
             line(8.0, 9.0, "the sauce")]  # a 2.5 s pause ends a cue without a full stop
    cues = speech_sentences(lines)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.5, 4.0, "The oven is at 180 degrees."), (4.0, 5.5, "Now stir"), (8.0, 9.0, "the sauce")]


def test_cues_labels_overlaps_and_formats():
    lines = [line(1.0, 4.0, "First sentence here."), line(3.0, 5.0, "Second one."),
             line(2.0, 2.0, "EXIT", "ocr"), line(2.0, 4.0, "siren (0.91)", "audio")]
    cues = subtitle_cues(lines, parse_kinds("speech,text,sound"))
    assert [(c.start, c.end, c.text) for c in cues] == [
        (1.0, 3.0, "First sentence here."),  # ends where the next sentence starts
        (2.0, 2.5, "[on screen] EXIT"),  # a zero-length line lasts MIN_CUE_S
        (2.0, 4.0, "[sound] siren"),
        (3.0, 5.0, "Second one."),
    ]
    assert to_srt(cues[:1]) == "1\n00:00:01,000 --> 00:00:03,000\nFirst sentence here.\n\n"
    assert to_vtt(cues[:1]) == "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nFirst sentence here.\n\n"
    assert to_srt([]) == "" and to_vtt([]) == "WEBVTT\n\n"


def test_vtt_cue_text_is_escaped():
    """'<', '&' and '>' are markup in WebVTT cue text: a line about <b> or R&D must show as written."""
    cue = Cue(1.0, 3.0, "a<b & c>d <b>R&D</b> -->")
    assert to_vtt([cue]).split("\n")[3] == "a&lt;b &amp; c&gt;d &lt;b&gt;R&amp;D&lt;/b&gt; -&gt;"
    assert to_srt([cue]).split("\n")[2] == "a<b & c>d <b>R&D</b> ->"  # SRT: as written
    assert to_csv([line(1, 2.5, 'say "hi", then go')]) == 'start,end,kind,text\n1.000,2.500,asr,"say ""hi"", then go"\n'
    assert parse_kinds("all") is None and parse_kinds("asr,speech") == ("asr",)
    with pytest.raises(ValueError, match="unknown evidence kind 'smell'"):
        parse_kinds("smell")
