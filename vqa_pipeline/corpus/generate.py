"""Deterministic generator of the bundled sample corpus and its ground truth.

(Longer than our ~350-line norm on purpose: most of it is the corpus itself, the ten clips' scripts
and the dev-set questions, kept in one place with the code that renders them.)

Usage::

    .venv/bin/python -m vqa_pipeline.corpus.generate OUT_DIR [--only CLIP_NAME]

For every clip in :data:`CLIPS` this writes ``OUT_DIR/<name>.mp4`` (or ``.wav`` for the audio-only
clip) and ``OUT_DIR/truth/<name>.json``. Without ``--only`` it also writes the dev set
``OUT_DIR/devset.jsonl`` and its sidecar ``OUT_DIR/devset_kinds.json``, whose relevant spans are
computed from the truth, so they always agree with the media.

Clips are built from the primitives of :mod:`vqa_pipeline.corpus.synth` (espeak-ng speech, tones and
noise, Pillow frames with drawn captions, PyAV H.264 + AAC). Nothing is random without a fixed
seed, so a rerun gives the same files; speech spans are measured from the actual placed,
silence-trimmed espeak audio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqa_pipeline.corpus import synth

SR = synth.SR  # audio sample rate of every clip
WIDTH, HEIGHT = 640, 360
FPS = 12
CRF = 28
AUDIO_BITRATE = 32_000
SPEECH_PEAK = 0.6
NOISE_FLOOR_STD = 0.002  # faint room noise under everything (about -54 dBFS)
MIN_AUDIO_GAP_S = 0.5  # speech and sound events never come closer than this
MAX_TEXT_WIDTH = 600
# Vertical centre of a caption box per position; the moving object keeps to y = 200-260.
CAPTION_Y = {"top": 45, "middle": 150, "bottom": 310}
CAPTION_BOX_RGB = (20, 20, 20)
CAPTION_TEXT_RGB = (255, 255, 255)


# ----------------------------------------------------------------------------------------------
# Clip specifications
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    start: float
    end: float
    color_name: str
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class Caption:
    text: str
    start: float
    end: float
    position: str = "middle"  # top | middle | bottom
    size: int = 40


@dataclass(frozen=True)
class Speech:
    text: str
    start: float


@dataclass(frozen=True)
class Sound:
    kind: str  # beep | noise | tone | chime | alarm | whistle
    start: float


@dataclass(frozen=True)
class Mover:
    shape: str  # ball | square
    color_name: str
    rgb: tuple[int, int, int]
    start: float
    end: float
    from_xy: tuple[int, int]
    to_xy: tuple[int, int]
    radius: int = 18


@dataclass(frozen=True)
class Clip:
    name: str
    duration: float
    theme: str
    kind: str = "av"  # av (mp4 with audio) | audio (wav only) | video (mp4 without audio)
    scenes: tuple[Scene, ...] = ()
    captions: tuple[Caption, ...] = ()
    speech: tuple[Speech, ...] = ()
    sounds: tuple[Sound, ...] = ()
    mover: Mover | None = None

    @property
    def filename(self) -> str:
        return f"{self.name}.wav" if self.kind == "audio" else f"{self.name}.mp4"

    @property
    def has_audio(self) -> bool:
        return self.kind != "video"

    @property
    def has_video(self) -> bool:
        return self.kind != "audio"


RED = (220, 40, 40)
YELLOW = (250, 215, 30)
WHITE = (245, 245, 245)

CLIPS: tuple[Clip, ...] = (
    Clip(
        name="cooking_tutorial",
        duration=30.0,
        theme="cooking tutorial: lemon tart, oven temperature, baking time, timer beeps",
        scenes=(
            Scene(0.0, 15.0, "orange", (230, 126, 34)),
            Scene(15.0, 30.0, "green", (30, 120, 60)),
        ),
        captions=(
            Caption("LEMON TART", 0.5, 6.0, "top", 52),
            Caption("Chef Marta Ruiz", 1.0, 7.0, "bottom"),
            Caption("220 °C", 7.0, 14.0, "middle", 52),
            Caption("STEP 2: BAKE", 15.5, 24.0, "top"),
            Caption("35 MIN", 16.5, 22.0, "middle", 52),
            Caption("Fan oven: 200 °C", 23.0, 29.0, "bottom"),
        ),
        speech=(
            Speech("Welcome to the kitchen. Today we bake a lemon tart.", 1.0),
            Speech("Preheat the oven to 220 degrees Celsius.", 6.0),
            Speech("Bake the tart for 35 minutes, until the top is golden.", 16.0),
            Speech("Let it cool for one hour before serving.", 22.0),
        ),
        sounds=(Sound("beep", 10.5), Sound("noise", 12.0), Sound("beep", 26.0)),
        mover=Mover("ball", "red", RED, 2.0, 28.0, (40, 230), (600, 230)),
    ),
    Clip(
        name="lecture_slide",
        duration=32.0,
        theme="maths lecture: professor's name, the Pythagorean theorem, homework page and day",
        scenes=(
            Scene(0.0, 12.0, "navy blue", (25, 45, 110)),
            Scene(12.0, 32.0, "light grey", (215, 215, 215)),
        ),
        captions=(
            Caption("LECTURE 7: GEOMETRY", 0.5, 11.0, "top", 48),
            Caption("Prof. Alan Whitfield", 1.0, 9.0, "bottom"),
            Caption("Pythagorean Theorem", 12.5, 31.5, "top", 48),
            Caption("a² + b² = c²", 18.0, 31.5, "middle", 52),
            Caption("Homework: p. 84, Thursday", 27.0, 31.5, "bottom", 36),
        ),
        speech=(
            Speech("Good morning, I am Professor Alan Whitfield.", 1.5),
            Speech("Today's lecture is about the Pythagorean theorem.", 13.5),
            Speech("In a right triangle, a squared plus b squared equals c squared.", 19.0),
            Speech("The homework is due on Thursday, page 84.", 27.0),
        ),
        sounds=(Sound("tone", 6.0), Sound("beep", 25.0)),
        mover=Mover("square", "yellow", YELLOW, 3.0, 29.0, (600, 230), (40, 230)),
    ),
    Clip(
        name="team_meeting",
        duration=34.0,
        theme="weekly planning meeting: presenter names, budget date, launch date, a doorbell chime",
        scenes=(
            Scene(0.0, 10.0, "teal", (0, 128, 128)),
            Scene(10.0, 34.0, "purple", (110, 60, 150)),
        ),
        captions=(
            Caption("WEEKLY PLANNING", 0.5, 9.5, "top", 48),
            Caption("Agenda: Budget Q2", 2.0, 9.5, "middle"),
            Caption("Priya Natarajan - Finance", 11.0, 17.0, "top", 36),
            Caption("Deadline: 14 March", 11.0, 17.0, "bottom"),
            Caption("Launch: 3 June", 18.0, 23.0, "middle", 48),
            Caption("Minutes: T. Berg", 24.0, 30.0, "bottom"),
        ),
        speech=(
            Speech("Good morning everyone, this is the weekly planning meeting.", 1.0),
            Speech("Priya Natarajan will present the budget on March 14th.", 11.5),
            Speech("The product launch moves to June 3rd.", 18.0),
            Speech("Thomas Berg will send the minutes by Friday.", 24.0),
        ),
        sounds=(Sound("chime", 6.5), Sound("noise", 29.5)),
        mover=Mover("ball", "white", WHITE, 5.0, 31.0, (40, 230), (600, 230)),
    ),
    Clip(
        name="train_station",
        duration=36.0,
        theme="railway announcements: platform numbers, a delay, a change of trains, chimes",
        scenes=(
            Scene(0.0, 18.0, "dark grey", (60, 60, 60)),
            Scene(18.0, 36.0, "maroon", (120, 30, 45)),
        ),
        captions=(
            Caption("CENTRAL STATION", 0.5, 17.5, "top", 48),
            Caption("10:45 BRIGHTON  PLATFORM 9", 2.5, 11.5, "middle", 36),
            Caption("OXFORD 11:05  DELAYED +20", 12.0, 17.5, "middle", 36),
            Caption("DEPARTURES", 18.5, 35.5, "top", 48),
            Caption("Change for Cambridge: Platform 4", 21.0, 26.0, "middle", 32),
            Caption("Platform 7 closed for works", 27.5, 35.0, "bottom", 36),
        ),
        speech=(
            Speech("Attention please. The 10:45 train to Brighton departs from platform 9.", 2.5),
            Speech("The service to Oxford is delayed by 20 minutes.", 12.5),
            Speech("Passengers for Cambridge, please change at platform 4.", 21.0),
            Speech("Do not leave luggage unattended.", 27.0),
        ),
        sounds=(Sound("chime", 0.5), Sound("noise", 9.5), Sound("chime", 19.0), Sound("beep", 31.0)),
        mover=Mover("ball", "orange", (255, 150, 20), 1.0, 34.0, (40, 230), (600, 230)),
    ),
    Clip(
        name="product_demo",
        duration=30.0,
        theme="headphone product demo: model name, price, shipping day, battery life, store name",
        scenes=(
            Scene(0.0, 8.0, "black", (15, 15, 15)),
            Scene(8.0, 30.0, "sky blue", (90, 170, 230)),
        ),
        captions=(
            Caption("AURORA X2", 1.0, 7.5, "top", 56),
            Caption("Wireless Headphones", 2.0, 7.5, "middle"),
            Caption("$149", 9.0, 14.0, "middle", 56),
            Caption("Ships Friday", 10.0, 14.0, "bottom"),
            Caption("30h battery", 15.0, 20.0, "middle", 48),
            Caption("Only at Novatek", 22.0, 29.0, "top"),
        ),
        speech=(
            Speech("Meet the Aurora X2 wireless headphones.", 1.5),
            Speech("They cost 149 dollars and ship on Friday.", 9.0),
            Speech("The battery lasts 30 hours on a single charge.", 15.0),
        ),
        sounds=(Sound("beep", 6.0), Sound("tone", 21.0)),
        mover=Mover("ball", "green", (40, 180, 60), 9.0, 28.0, (600, 230), (40, 230)),
    ),
    Clip(
        name="weather_report",
        duration=32.0,
        theme="evening weather report: presenter, Denver snow and temperature, wind speed",
        scenes=(
            Scene(0.0, 16.0, "blue", (40, 90, 200)),
            Scene(16.0, 32.0, "grey", (128, 128, 128)),
        ),
        captions=(
            Caption("WEATHER TONIGHT", 0.5, 7.5, "top", 48),
            Caption("Lena Fischer", 1.0, 7.0, "bottom"),
            Caption("SNOW", 8.0, 15.5, "top", 48),
            Caption("DENVER  -3 °C", 8.5, 15.5, "middle", 52),
            Caption("WIND 45 km/h", 17.0, 24.0, "middle", 48),
            Caption("Weekend: sunny, 12 °C", 24.5, 31.0, "middle"),
        ),
        speech=(
            Speech("Good evening, I'm Lena Fischer with the weather.", 1.0),
            Speech("Tomorrow in Denver, expect snow and a high of minus 3 degrees.", 8.5),
            Speech("Winds will reach 45 kilometres per hour in the afternoon.", 17.5),
        ),
        sounds=(Sound("noise", 14.0), Sound("tone", 27.5)),
        mover=Mover("ball", "white", WHITE, 2.0, 30.0, (40, 230), (600, 230)),
    ),
    Clip(
        name="fire_drill",
        duration=30.0,
        theme="office fire drill: alarm siren, exit route, assembly point, warden name, beeps",
        scenes=(
            Scene(0.0, 12.0, "red", (190, 30, 30)),
            Scene(12.0, 30.0, "dark green", (20, 100, 50)),
        ),
        captions=(
            Caption("FIRE DRILL", 0.5, 9.0, "top", 56),
            Caption("EXIT: NORTH STAIRS", 9.0, 11.5, "middle", 48),
            Caption("Floor warden: Kim Osei", 13.0, 22.0, "bottom", 36),
            Caption("ASSEMBLY POINT B", 14.5, 22.0, "middle", 48),
            Caption("DRILL COMPLETE 10:32", 23.5, 29.5, "top", 40),
        ),
        speech=(
            Speech("This is a fire drill. Please leave the building now.", 4.5),
            Speech("Use the north staircase, not the lifts.", 9.0),
            Speech("Assemble at meeting point B in the car park.", 15.0),
        ),
        sounds=(Sound("alarm", 0.5), Sound("beep", 24.0), Sound("beep", 24.75), Sound("beep", 25.5)),
        mover=Mover("ball", "yellow", YELLOW, 1.0, 27.0, (40, 230), (600, 230)),
    ),
    Clip(
        name="sports_score",
        duration=30.0,
        theme="football result: final score, venue, goal scorer and minute, attendance, next match",
        scenes=(
            Scene(0.0, 15.0, "green", (40, 140, 60)),
            Scene(15.0, 30.0, "navy blue", (20, 30, 80)),
        ),
        captions=(
            Caption("FULL TIME", 1.0, 14.0, "top", 52),
            Caption("SHARKS 3 - 2 OWLS", 4.0, 14.0, "middle", 48),
            Caption("Alvarez 23' 88'", 16.0, 22.0, "bottom"),
            Caption("Attendance: 18,400", 16.5, 22.0, "middle"),
            Caption("NEXT: SHARKS v EAGLES, SAT", 23.0, 29.0, "top", 36),
        ),
        speech=(
            Speech("Full time here at Riverside Park.", 4.5),
            Speech("The Harbor City Sharks beat the Lakeside Owls 3 to 2.", 8.0),
            Speech("Diego Alvarez scored twice, and the winning goal came in the 88th minute.", 16.0),
        ),
        sounds=(Sound("whistle", 0.5), Sound("noise", 2.0), Sound("noise", 23.0)),
        mover=Mover("ball", "white", WHITE, 5.0, 25.0, (40, 250), (600, 210)),
    ),
    Clip(
        name="voicemail",
        duration=17.0,
        theme="audio only: a dentist's voicemail after a beep, with day, time and phone number",
        kind="audio",
        speech=(
            Speech("Hi, this is Tom from Northside Dental.", 1.5),
            Speech("Your appointment is on Tuesday at 4:30 in the afternoon.", 5.5),
            Speech("Please call us back on 555 0192.", 10.5),
        ),
        sounds=(Sound("beep", 0.5),),
    ),
    Clip(
        name="parking_camera",
        duration=20.0,
        theme="no audio track: car park camera with gate notices and a moving square",
        kind="video",
        scenes=(
            Scene(0.0, 10.0, "dark grey", (50, 50, 55)),
            Scene(10.0, 20.0, "light blue", (150, 200, 235)),
        ),
        captions=(
            Caption("CAM 3  LEVEL 2", 0.5, 9.5, "top", 40),
            Caption("GATE 12 CLOSED", 2.0, 9.0, "middle", 48),
            Caption("EXIT VIA GATE 14", 11.0, 18.0, "middle", 48),
            Caption("Max height 2.1 m", 12.0, 19.0, "bottom"),
        ),
        mover=Mover("square", "red", RED, 2.0, 18.0, (600, 230), (40, 230)),
    ),
)

CLIPS_BY_NAME = {c.name: c for c in CLIPS}


# ----------------------------------------------------------------------------------------------
# Dev set (questions refer to truth items; spans are computed from the truth)
# ----------------------------------------------------------------------------------------------

# A reference is (field, selector[, index]): field is speech | ocr | sound | scene | object;
# selector is a substring of the item's text (speech/ocr), a sound kind, or a scene colour name;
# without an index every match counts, with one only that match.
Ref = tuple[Any, ...]


@dataclass(frozen=True)
class Question:
    id: str
    clip: str
    question: str
    answer_any: tuple[str, ...]
    refs: tuple[Ref, ...]
    kind: str  # speech | ocr | sound | order | visual | absent


def _q(id: str, clip: str, question: str, answers: Sequence[str], refs: Sequence[Ref], kind: str) -> Question:
    return Question(id, clip, question, tuple(answers), tuple(refs), kind)


QUESTIONS: tuple[Question, ...] = (
    # cooking_tutorial
    _q("cook_temp", "cooking_tutorial", "What temperature should the oven be preheated to?",
       ["220"], [("speech", "Preheat")], "speech"),
    _q("cook_time", "cooking_tutorial", "How long should the lemon tart bake?",
       ["35 min", "thirty-five min", "thirty five min"], [("speech", "35 minutes")], "speech"),
    _q("cook_chef", "cooking_tutorial", "What is the name of the chef shown on screen?",
       ["Marta Ruiz", "Ruiz"], [("ocr", "Chef")], "ocr"),
    _q("cook_fan", "cooking_tutorial", "Which fan oven temperature is written on screen?",
       ["200"], [("ocr", "Fan oven")], "ocr"),
    _q("cook_beep_after", "cooking_tutorial", "What sound is heard right after the oven temperature is given?",
       ["beep"], [("sound", "beep", 0)], "order"),
    _q("cook_scene", "cooking_tutorial", "What colour does the background change to when the baking step starts?",
       ["green"], [("scene", "green")], "visual"),
    _q("cook_sugar", "cooking_tutorial", "How many grams of sugar go into the lemon tart?",
       [], [], "absent"),
    # lecture_slide
    _q("lec_prof", "lecture_slide", "Who is giving the lecture?",
       ["Whitfield"], [("speech", "Whitfield"), ("ocr", "Whitfield")], "speech"),
    _q("lec_theorem", "lecture_slide", "Which theorem is the lecture about?",
       ["Pythagor"], [("speech", "Pythagorean"), ("ocr", "Pythagorean")], "speech"),
    _q("lec_page", "lecture_slide", "On which page is the homework?",
       ["84", "eighty-four", "eighty four"], [("speech", "homework"), ("ocr", "Homework")], "speech"),
    _q("lec_number", "lecture_slide", "What lecture number is shown on the first slide?",
       ["7", "seven"], [("ocr", "LECTURE 7")], "ocr"),
    _q("lec_formula_next", "lecture_slide",
       "What does the professor say right after the formula a² + b² = c² appears on the slide?",
       ["right triangle", "right-angled triangle"], [("speech", "right triangle")], "order"),
    _q("lec_shape", "lecture_slide", "What shape moves across the lecture slides?",
       ["square"], [("object",)], "visual"),
    _q("lec_tone", "lecture_slide", "Is a steady tone heard during the lecture?",
       ["yes", "tone"], [("sound", "tone")], "sound"),
    # team_meeting
    _q("meet_budget", "team_meeting", "Who will present the budget?",
       ["Priya", "Natarajan"], [("speech", "Priya"), ("ocr", "Priya")], "speech"),
    _q("meet_date", "team_meeting", "On what date will the budget be presented?",
       ["March 14", "14 March", "14th of March", "March fourteenth"], [("speech", "Priya"), ("ocr", "Deadline")], "speech"),
    _q("meet_launch", "team_meeting", "When is the product launch?",
       ["June 3", "3 June", "June third", "third of June"], [("speech", "launch"), ("ocr", "Launch")], "speech"),
    _q("meet_minutes", "team_meeting", "Who will send the minutes of the meeting?",
       ["Berg"], [("speech", "minutes"), ("ocr", "Minutes")], "speech"),
    _q("meet_chime", "team_meeting", "What sound is heard while the agenda is on screen?",
       ["chime", "bell", "ding"], [("sound", "chime")], "sound"),
    _q("meet_agenda", "team_meeting", "Which agenda item is shown on screen at the start of the meeting?",
       ["Budget Q2", "Q2"], [("ocr", "Agenda")], "ocr"),
    _q("meet_room", "team_meeting", "In which room number is the meeting held?",
       [], [], "absent"),
    # train_station
    _q("train_platform", "train_station", "Which platform does the 10:45 train to Brighton leave from?",
       ["9", "nine"], [("speech", "Brighton"), ("ocr", "BRIGHTON")], "speech"),
    _q("train_delay", "train_station", "How long is the Oxford service delayed?",
       ["20 min", "twenty min"], [("speech", "Oxford"), ("ocr", "OXFORD")], "speech"),
    _q("train_change", "train_station", "Where should passengers for Cambridge change trains?",
       ["platform 4", "platform four"], [("speech", "Cambridge"), ("ocr", "Cambridge")], "speech"),
    _q("train_closed", "train_station", "Which platform is closed for works according to the screen?",
       ["7", "seven"], [("ocr", "closed")], "ocr"),
    _q("train_oxford_time", "train_station", "What departure time is displayed for the Oxford train?",
       ["11:05"], [("ocr", "OXFORD")], "ocr"),
    _q("train_first_sound", "train_station", "What sound comes just before the first announcement?",
       ["chime", "bell", "ding"], [("sound", "chime", 0)], "order"),
    _q("train_manchester", "train_station", "What time does the train to Manchester leave?",
       [], [], "absent"),
    # product_demo
    _q("prod_price", "product_demo", "How much do the Aurora X2 headphones cost?",
       ["149"], [("speech", "149"), ("ocr", "$149")], "speech"),
    _q("prod_ship", "product_demo", "On which day do the headphones ship?",
       ["Friday"], [("speech", "ship"), ("ocr", "Ships")], "speech"),
    _q("prod_battery", "product_demo", "How long does the battery last on a single charge?",
       ["30 hours", "thirty hours", "30h", "30 h"], [("speech", "battery"), ("ocr", "battery")], "speech"),
    _q("prod_store", "product_demo", "Which store is the product sold at, according to the screen?",
       ["Novatek"], [("ocr", "Novatek")], "ocr"),
    _q("prod_scene", "product_demo", "What colour is the background after the black intro?",
       ["blue"], [("scene", "sky blue")], "visual"),
    _q("prod_colours", "product_demo", "Which colours are the headphones available in?",
       [], [], "absent"),
    # weather_report
    _q("wx_presenter", "weather_report", "Who presents the weather report?",
       ["Fischer"], [("speech", "Fischer"), ("ocr", "Fischer")], "speech"),
    _q("wx_temp", "weather_report", "What is tomorrow's high temperature in Denver?",
       ["-3", "minus 3", "minus three", "−3"], [("speech", "Denver"), ("ocr", "DENVER")], "speech"),
    _q("wx_wind", "weather_report", "How strong will the winds be in the afternoon?",
       ["45"], [("speech", "Winds"), ("ocr", "WIND")], "speech"),
    _q("wx_weekend", "weather_report", "What temperature is shown on screen for the weekend?",
       ["12"], [("ocr", "Weekend")], "ocr"),
    _q("wx_city_next", "weather_report",
       "Which city's forecast appears on screen right after the presenter introduces herself?",
       ["Denver"], [("ocr", "DENVER")], "order"),
    _q("wx_pollen", "weather_report", "What is the pollen count for tomorrow?",
       [], [], "absent"),
    # fire_drill
    _q("fire_alarm", "fire_drill", "Is there an alarm in the video?",
       ["yes", "alarm", "siren"], [("sound", "alarm")], "sound"),
    _q("fire_stairs", "fire_drill", "Which staircase should people use to leave the building?",
       ["north"], [("speech", "staircase"), ("ocr", "NORTH")], "speech"),
    _q("fire_assembly", "fire_drill", "Where should everyone assemble?",
       ["point B", "meeting point B"], [("speech", "Assemble"), ("ocr", "ASSEMBLY")], "speech"),
    _q("fire_warden", "fire_drill", "Who is the floor warden?",
       ["Kim Osei", "Osei"], [("ocr", "warden")], "ocr"),
    _q("fire_after_alarm", "fire_drill", "What is announced right after the alarm stops?",
       ["fire drill", "leave the building"], [("speech", "fire drill")], "order"),
    _q("fire_beeps", "fire_drill", "When do the short beeps sound near the end of the drill?",
       ["beep", "0:24", "24"], [("sound", "beep")], "sound"),
    _q("fire_bg", "fire_drill", "What colour is the background while the fire drill title is shown?",
       ["red"], [("scene", "red")], "visual"),
    # sports_score
    _q("sport_score", "sports_score", "What was the final score of the match?",
       ["3-2", "3 - 2", "3 to 2", "three to two", "3–2"], [("speech", "Sharks"), ("ocr", "SHARKS 3")], "speech"),
    _q("sport_scorer", "sports_score", "Who scored twice?",
       ["Alvarez"], [("speech", "Alvarez")], "speech"),
    _q("sport_minute", "sports_score", "In which minute was the winning goal scored?",
       ["88"], [("speech", "88th"), ("ocr", "88")], "speech"),
    _q("sport_venue", "sports_score", "Where was the match played?",
       ["Riverside"], [("speech", "Riverside")], "speech"),
    _q("sport_attendance", "sports_score", "What was the attendance at the match?",
       ["18,400", "18400", "18 400"], [("ocr", "Attendance")], "ocr"),
    _q("sport_next", "sports_score", "Which team do the Sharks play next?",
       ["Eagles"], [("ocr", "EAGLES")], "ocr"),
    _q("sport_whistle", "sports_score", "What sound is heard at the very start of the clip?",
       ["whistle"], [("sound", "whistle")], "sound"),
    _q("sport_referee", "sports_score", "Who was the referee of the match?",
       [], [], "absent"),
    # voicemail (audio only)
    _q("vm_caller", "voicemail", "Who is calling from Northside Dental?",
       ["Tom"], [("speech", "Tom")], "speech"),
    _q("vm_day", "voicemail", "On which day is the dental appointment?",
       ["Tuesday"], [("speech", "appointment")], "speech"),
    _q("vm_phone", "voicemail", "What number should be called back?",
       ["555 0192", "5550192", "555-0192", "555 01 92"], [("speech", "555")], "speech"),
    _q("vm_beep", "voicemail", "What sound is heard before the message starts?",
       ["beep"], [("sound", "beep")], "sound"),
    # parking_camera (no audio track)
    _q("park_gate_closed", "parking_camera", "Which gate is closed?",
       ["12", "twelve"], [("ocr", "CLOSED")], "ocr"),
    _q("park_exit", "parking_camera", "Which gate should drivers use to exit?",
       ["14", "fourteen"], [("ocr", "EXIT")], "ocr"),
    _q("park_height", "parking_camera", "What is the maximum vehicle height shown?",
       ["2.1"], [("ocr", "height")], "ocr"),
    _q("park_scene", "parking_camera", "What colour does the camera view turn halfway through?",
       ["blue"], [("scene", "light blue")], "visual"),
    _q("park_fee", "parking_camera", "What does the announcer say about parking fees?",
       [], [], "absent"),
)


# ----------------------------------------------------------------------------------------------
# Audio (made of the primitives in corpus/synth.py)
# ----------------------------------------------------------------------------------------------


def _r(x: float) -> float:
    return round(float(x), 3)


def build_audio(clip: Clip, workdir: Path) -> tuple[np.ndarray, list[dict], list[dict]]:
    """Mix the clip's audio track; returns (samples, speech truth, sound-event truth)."""
    track = synth.noise_floor(clip.duration, std=NOISE_FLOOR_STD, seed=synth.seed_of(clip.name, "floor"))
    spans: list[tuple[float, float, str]] = []
    speech_truth, sound_truth = [], []

    def place(samples: np.ndarray, start: float, label: str) -> tuple[float, float]:
        end = start + len(samples) / SR
        if synth.n_samples(start) + len(samples) > len(track):
            raise ValueError(f"{clip.name}: {label} ends at {end:.2f} s, after the clip end")
        s, e = synth.mix_in(track, samples, start)
        spans.append((s, e, label))
        return s, e

    for sp in clip.speech:
        voice = synth.speech(sp.text, voice="en-us", speed_wpm=150, peak=SPEECH_PEAK, fade_ms=3, workdir=workdir)
        s, e = place(voice, sp.start, f"speech {sp.text!r}")
        speech_truth.append({"text": sp.text, "start": _r(s), "end": _r(e)})
    for i, snd in enumerate(clip.sounds):
        samples, freq = synth.sound_event(snd.kind, seed=synth.seed_of(clip.name, snd.kind, i))
        s, e = place(samples, snd.start, f"{snd.kind} at {snd.start}")
        item: dict[str, Any] = {"kind": snd.kind, "start": _r(s), "end": _r(e)}
        if freq is not None:
            item["freq_hz"] = freq
        sound_truth.append(item)

    spans.sort()
    for (s0, e0, l0), (s1, e1, l1) in zip(spans, spans[1:]):
        if s1 < e0 + MIN_AUDIO_GAP_S:
            raise ValueError(f"{clip.name}: {l1} ({s1:.2f}-{e1:.2f}) is too close to {l0} ({s0:.2f}-{e0:.2f})")
    peak = np.abs(track).max()
    if peak > 0.99:
        raise ValueError(f"{clip.name}: mix clips (peak {peak:.2f})")
    return track.astype(np.float32), speech_truth, sound_truth


# ----------------------------------------------------------------------------------------------
# Video
# ----------------------------------------------------------------------------------------------


def caption_layout(cap: Caption) -> tuple[int, tuple[int, int, int, int], tuple[int, int]]:
    """Font size (shrunk to fit), box (x0, y0, x1, y1) and text origin of a caption."""
    return synth.text_box_layout(cap.text, font_size=cap.size, center_xy=(WIDTH // 2, CAPTION_Y[cap.position]),
                                 pad_px=10, max_text_width=MAX_TEXT_WIDTH - 24, min_font_size=20)


def render_frame(clip: Clip, t: float):
    """The PIL image of ``clip`` at time ``t``."""
    scene = next((s for s in clip.scenes if s.start <= t < s.end), clip.scenes[-1])
    img = synth.solid_frame(scene.rgb, size=(WIDTH, HEIGHT))
    m = clip.mover
    if m is not None and (xy := synth.glide(m.from_xy, m.to_xy, m.start, m.end, t)) is not None:
        synth.draw_shape(img, m.shape, xy, m.radius, m.rgb)
    for cap in clip.captions:
        if cap.start <= t < cap.end:
            synth.draw_text_box(img, cap.text, font_size=cap.size, center_xy=(WIDTH // 2, CAPTION_Y[cap.position]),
                                text_rgb=CAPTION_TEXT_RGB, box_rgb=CAPTION_BOX_RGB, pad_px=10,
                                max_text_width=MAX_TEXT_WIDTH - 24, min_font_size=20)
    return img


def _check_captions(clip: Clip) -> None:
    for i, a in enumerate(clip.captions):
        if not 0 <= a.start < a.end <= clip.duration:
            raise ValueError(f"{clip.name}: caption {a.text!r} lies outside the clip")
        for b in clip.captions[i + 1 :]:
            if a.position == b.position and a.start < b.end and b.start < a.end:
                raise ValueError(f"{clip.name}: captions {a.text!r} and {b.text!r} overlap at {a.position}")


def encode(clip: Clip, path: Path, audio: np.ndarray | None) -> None:
    """Write ``clip`` as H.264 (+ AAC mono when ``audio`` is given) into an MP4 at ``path``."""
    synth.encode_mp4(path, synth.render_frames(lambda t: render_frame(clip, t), duration_s=clip.duration, fps=FPS),
                     fps=FPS, audio=audio, container_format="mp4", audio_bitrate=AUDIO_BITRATE,
                     x264_options={"crf": str(CRF), "preset": "medium", "g": str(2 * FPS), "threads": "1"})


# ----------------------------------------------------------------------------------------------
# Truth and driver
# ----------------------------------------------------------------------------------------------


def generate_clip(clip: Clip, out_dir: Path, workdir: Path) -> dict:
    """Write one clip and its truth JSON under ``out_dir``; returns the truth."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "truth").mkdir(exist_ok=True)
    _check_captions(clip)
    audio, speech_truth, sound_truth = build_audio(clip, workdir) if clip.has_audio else (None, [], [])
    path = out_dir / clip.filename
    if clip.kind == "audio":
        assert audio is not None  # an audio clip has audio (has_audio above)
        synth.write_audio(path, audio)
    else:
        encode(clip, path, audio)
    m = clip.mover
    truth = {
        "clip": clip.filename,
        "theme": clip.theme,
        "duration_s": clip.duration,
        "width": WIDTH if clip.has_video else None,
        "height": HEIGHT if clip.has_video else None,
        "fps": FPS if clip.has_video else None,
        "has_audio": clip.has_audio,
        "speech": speech_truth,
        "onscreen_text": [
            {"text": c.text, "start": c.start, "end": c.end, "position": c.position} for c in clip.captions
        ],
        "scenes": [{"start": s.start, "end": s.end, "color_name": s.color_name, "rgb": list(s.rgb)} for s in clip.scenes],
        "sound_events": sound_truth,
        "moving_object": None
        if m is None
        else {
            "shape": m.shape,
            "color_name": m.color_name,
            "rgb": list(m.rgb),
            "start": m.start,
            "end": m.end,
            "from_xy": list(m.from_xy),
            "to_xy": list(m.to_xy),
            "size_px": 2 * m.radius,
        },
    }
    (out_dir / "truth" / f"{clip.name}.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
    return truth


def _spans_for(q: Question, truth: dict) -> list[list[float]]:
    spans: list[list[float]] = []
    for ref in q.refs:
        field, rest = ref[0], ref[1:]
        if field == "object":
            items = [truth["moving_object"]]
        else:
            key, items = {
                "speech": ("text", truth["speech"]),
                "ocr": ("text", truth["onscreen_text"]),
                "sound": ("kind", truth["sound_events"]),
                "scene": ("color_name", truth["scenes"]),
            }[field]
            sel = rest[0]
            if field in ("speech", "ocr"):
                items = [it for it in items if sel in it[key]]
            else:
                items = [it for it in items if it[key] == sel]
            if len(rest) > 1:
                items = items[rest[1] : rest[1] + 1]
        if not items:
            raise ValueError(f"question {q.id}: reference {ref} matches nothing in {q.clip}")
        if field in ("speech", "ocr") and len(rest) == 1 and len(items) > 1:
            raise ValueError(f"question {q.id}: reference {ref} is ambiguous in {q.clip}")
        spans += [[it["start"], it["end"]] for it in items]
    return sorted(spans)


def write_devset(out_dir: Path, truths: dict[str, dict]) -> int:
    ids = [q.id for q in QUESTIONS]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate question ids")
    lines, kinds = [], {}
    for q in QUESTIONS:
        truth = truths[q.clip]
        if (q.kind == "absent") != (not q.answer_any) or (q.kind == "absent") != (not q.refs):
            raise ValueError(f"question {q.id}: only absent questions have no answers and no spans")
        row = {
            "id": q.id,
            "video": truth["clip"],
            "question": q.question,
            "answer_any": list(q.answer_any),
            "relevant": _spans_for(q, truth),
        }
        lines.append(json.dumps(row, ensure_ascii=False))
        kinds[q.id] = q.kind
    (out_dir / "devset.jsonl").write_text("\n".join(lines) + "\n")
    (out_dir / "devset_kinds.json").write_text(json.dumps(kinds, indent=2) + "\n")
    return len(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vqa_pipeline.corpus.generate", description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--only", metavar="CLIP_NAME", help="generate just this clip and its truth (no dev set)")
    args = ap.parse_args(argv)
    if args.only is not None and args.only not in CLIPS_BY_NAME:
        ap.error(f"unknown clip {args.only!r}; known: {', '.join(CLIPS_BY_NAME)}")
    clips = [CLIPS_BY_NAME[args.only]] if args.only else list(CLIPS)
    t0 = time.perf_counter()
    truths = {}
    with tempfile.TemporaryDirectory(prefix="vqa_corpus_") as tmp:
        for clip in clips:
            t1 = time.perf_counter()
            truths[clip.name] = generate_clip(clip, args.out_dir, Path(tmp))
            print(f"{clip.filename}: {time.perf_counter() - t1:.1f} s", file=sys.stderr)
    if args.only is None:
        n = write_devset(args.out_dir, truths)
        print(f"devset.jsonl: {n} questions", file=sys.stderr)
    print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
