"""Connected speech with exact word timings, synthesised offline by espeak-ng (ctypes, no pip package).

espeak-ng (Debian ``libespeak-ng1``: ``apt-get install -y libespeak-ng1 espeak-ng``) reports, while it
synthesises in synchronous mode, an ``espeakEVENT_WORD`` for every word and an
``espeakEVENT_PHONEME`` for every phoneme, each with its position in samples. From them:

- **truth convention**: a word starts at its sound onset: the WORD event, moved past a silent stop
  closure that follows it within 5 ms (to the first 2.5 ms frame louder than -45 dB of the file's
  peak; searched up to the word's second phoneme); a word ends where the next word's WORD event is
  (its closure belongs to the next word) and the last word where the sound stops. Verified against
  the waveform: every truth start has sound within 10 ms after it and none of the words runs over
  silence of more than a stop closure.
- **no inserted pauses**: espeak inserts pause phonemes (``_``, ``_:``, ``_!``) before some words even
  without punctuation; their samples are cut out of the waveform and the later events shifted, so the
  speech stays connected (counted in ``pauses_cut``).
- **merged word pairs**: espeak speaks some pairs as one dictionary entry (one WORD event over two
  words); the inner boundary is unknown, so the second word's start and the first word's end are
  ``None`` (not scored), counted in ``merged``.

Sentences are Harvard sentences (IEEE 1969, public domain), spoken by several voices at several
speeds, with 0.25-0.8 s of leading silence; split into a **tuning** set (even sentences, tuning
voices and speeds) and a held-out **report** set (odd sentences, other voices and speeds). Each set
has a clean and a 20 dB SNR copy (white noise relative to the speech power); the report set also
has one long file (> 30 s: several Whisper windows) of report sentences in a row.

``corpus(cache_dir)`` builds it once into ``cache_dir`` (WAV 16 kHz + ``truth.json``), then reads it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from pathlib import Path

import numpy as np

SR = 16000
SNR_DB = 20.0
VERSION = 4

SENTENCES = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it's easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "the hogs were fed chopped corn and garbage",
    "four hours of steady work faced us",
    "a large size in stockings is hard to sell",
    "the boy was there when the sun rose",
    "a rod is used to catch pink salmon",
    "the source of the huge river is the clear spring",
    "kick the ball straight and follow through",
    "help the woman get back to her feet",
    "a pot of tea helps to pass the evening",
    "smoky fires lack flame and heat",
    "the soft cushion broke the man's fall",
    "the salt breeze came across from the sea",
    "the girl at the booth sold fifty bonds",
    "the small pup gnawed a hole in the sock",
    "the fish twisted and turned on the bent hook",
    "press the pants and sew a button on the vest",
    "the swan dive was far short of perfect",
    "the beauty of the view stunned the young boy",
    "two blue fish swam in the tank",
    "her purse was full of useless trash",
    "the colt reared and threw the tall rider",
    "read verse out loud for pleasure",
    "hoist the load to your left shoulder",
    "take the winding path to reach the lake",
    "note closely the size of the gas tank",
    "wipe the grease off his dirty face",
    "mend the coat before you go out",
    "the wrist was badly strained and hung limp",
    "the stray cat gave birth to kittens",
    "the young girl gave no clear response",
    "the meal was cooked before the bell rang",
    "what joy there is in living",
    "a king ruled the state in the early days",
    "the ship was torn apart on the sharp reef",
    "sickness kept him home the third week",
    "the wide road shimmered in the hot sun",
    "the lazy cow lay in the cool grass",
    "lift the square stone over the fence",
    "the rope will bind the seven books at once",
    "hop over the fence and plunge in",
    "the friendly gang left the drug store",
    "mesh wire keeps chicks inside",
    "the frosty air passed through the coat",
    "the crooked maze failed to fool the mouse",
    "adding fast leads to wrong sums",
    "the show was a flop from the very start",
    "a saw is a tool used for making boards",
    "the wagon moved on well oiled wheels",
    "march the soldiers past the next hill",
    "a cup of sugar makes sweet fudge",
    "place a rosebush near the porch steps",
    "both lost their lives in the raging storm",
    "we talked of the side show in the circus",
    "use a pencil to write the first draft",
    "he ran half way to the hardware store",
    "the clock struck to mark the third period",
    "a small creek cut across the field",
    "cars and busses stalled in snow drifts",
    "the set of china hit the floor with a crash",
    "this is a grand season for hikes on the road",
    "the dune rose from the edge of the water",
    "those words were the cue for the actor to leave",
    "a yacht slid around the point into the bay",
    "the two met while playing on the sand",
    "the sky that morning was clear and bright blue",
]
SETS = {
    "tuning": {
        "sentences": slice(0, None, 2),
        "voices": ["en-us", "en", "en-gb-scotland"],
        "speeds": [150, 185],
    },
    "report": {
        "sentences": slice(1, None, 2),
        "voices": ["en-gb-x-rp", "en-029", "en-us+f3", "en-gb-x-gbclan"],
        "speeds": [140, 170, 200],
    },
}

_WORD, _PHONEME, _END = 1, 7, 5
_SYNCHRONOUS, _PHONEME_EVENTS, _DONT_EXIT = 2, 0x0001, 0x8000
_RATE = 1
_FRAME = 0.0025
_SILENT_DB = -45.0


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class Espeak:
    """The espeak-ng C library in synchronous mode: text -> (int16 samples, events)."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError as err:
            raise RuntimeError("libespeak-ng not found: apt-get install -y libespeak-ng1 espeak-ng") from err
        self.sr = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, None, _PHONEME_EVENTS | _DONT_EXIT)
        if self.sr <= 0:
            raise RuntimeError("espeak_Initialize failed")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != 0:
            e = events[i]
            self._events.append((e.type, e.text_position, e.length, e.sample, bytes(e.id).split(b"\0")[0]))
            i += 1
        return 0

    def synth(self, text: str, voice: str, wpm: int) -> tuple[np.ndarray, list[tuple]]:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise RuntimeError(f"espeak-ng has no voice {voice!r}")
        self.lib.espeak_SetParameter(_RATE, int(wpm), 0)
        self._chunks, self._events = [], []
        data = text.encode()
        self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0, None, None)
        self.lib.espeak_Synchronize()
        return np.concatenate(self._chunks).astype(np.float32) / 32768.0, list(self._events)


def _cut_pauses(wave: np.ndarray, events: list[tuple]) -> tuple[np.ndarray, list[tuple], int]:
    """Remove inner pause phonemes (``_``...) from the waveform; shift the later events."""
    phonemes = [e for e in events if e[0] == _PHONEME]
    first_sound = next((e[3] for e in phonemes if not e[4].startswith(b"_")), 0)
    last_sound = max((e[3] for e in phonemes if not e[4].startswith(b"_")), default=len(wave))
    cuts = []
    for ev, nxt in zip(phonemes[:-1], phonemes[1:]):
        if ev[4].startswith(b"_") and first_sound < ev[3] < last_sound and nxt[3] > ev[3]:
            cuts.append((ev[3], nxt[3]))
    keep = np.ones(len(wave), bool)
    for a, b in cuts:
        keep[a:b] = False

    def shift(sample: int) -> int:
        return sample - sum(min(b, max(a, sample)) - a for a, b in cuts)

    return wave[keep], [(*e[:3], shift(e[3]), e[4]) for e in events], len(cuts)


def _frame_db(wave: np.ndarray) -> np.ndarray:
    hop = int(_FRAME * SR)
    n = len(wave) // hop
    rms = np.sqrt((wave[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(1))
    return 20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10))


def _word_truth(text: str, events: list[tuple], wave: np.ndarray, scale: float) -> tuple[list[dict], int]:
    """Truth start/end (seconds) of each word of ``text`` from WORD and PHONEME events."""
    words = text.split()
    offsets, pos = [], 0
    for w in words:
        pos = text.index(w, pos)
        offsets.append(pos + 1)  # espeak's text positions are 1-based
        pos += len(w)
    word_events = [e for e in events if e[0] == _WORD]
    phonemes = [e for e in events if e[0] == _PHONEME and not e[4].startswith(b"_")]
    sample_of: dict[int, int] = {}
    for e in word_events:
        covered = [i for i, off in enumerate(offsets) if e[1] <= off < e[1] + max(e[2], 1)]
        if covered:
            sample_of[covered[0]] = e[3]
    merged = len(words) - len(sample_of)
    db = _frame_db(wave)
    hop = int(_FRAME * SR)
    loud = db > _SILENT_DB
    truth = []
    for i, w in enumerate(words):
        if i not in sample_of:
            truth.append({"word": w, "start": None, "end": None})
            continue
        event = int(round(sample_of[i] * scale))
        later = [p for p in phonemes if p[3] * scale >= event - 1]
        limit = int(round(later[1][3] * scale)) if len(later) > 1 else len(wave)
        start = event
        span = loud[-(-event // hop) : max(-(-event // hop), limit // hop)]
        silent = np.flatnonzero(~span)
        # a stop closure right at the event (within 5 ms: the previous word's tail) is silent: the
        # word's sound starts after it; a silence later in the word (after "a") is not a closure
        if len(silent) and silent[0] <= 2:
            run_end = silent[0] + np.argmax(span[silent[0] :]) if span[silent[0] :].any() else len(span)
            start = (-(-event // hop) + int(run_end)) * hop
        truth.append({"word": w, "start": round(start / SR, 5), "end": None, "event": round(event / SR, 5)})
    for cur, nxt in zip(truth[:-1], truth[1:]):
        if cur.get("event") is not None and nxt.get("event") is not None:
            cur["end"] = nxt["event"]
    if truth[-1].get("event") is not None:
        last_loud = np.flatnonzero(loud)
        truth[-1]["end"] = round((last_loud[-1] + 1) * hop / SR, 5) if len(last_loud) else None
    for t in truth:
        t.pop("event", None)
    return truth, merged


def _verify(truth: list[dict], wave: np.ndarray) -> int:
    """Unscore truth starts not followed by sound within 10 ms (returns how many); checks the rest."""
    db = _frame_db(wave)
    hop = int(_FRAME * SR)
    dropped = 0
    for t in truth:
        if t["start"] is None:
            continue
        frame = int(round(t["start"] * SR)) // hop
        if not (db[frame : frame + 4] > _SILENT_DB).any():
            t["start"] = None
            dropped += 1
    return dropped


def _resample(wave: np.ndarray, sr: int) -> np.ndarray:
    import soxr

    return soxr.resample(wave, sr, SR, quality="HQ").astype(np.float32)


def _add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    speech = wave[np.abs(wave) > 1e-4]
    power = float(np.mean(speech**2)) if len(speech) else 1e-6
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(wave))
    return (wave + noise).astype(np.float32)


def _utterances(engine: Espeak, name: str, rng: np.random.Generator) -> list[dict]:
    spec = SETS[name]
    out = []
    for k, text in enumerate(SENTENCES[spec["sentences"]]):
        voice = spec["voices"][k % len(spec["voices"])]
        wpm = spec["speeds"][k % len(spec["speeds"])]
        raw, events = engine.synth(text, voice, wpm)
        raw, events, cut = _cut_pauses(raw, events)
        wave = _resample(raw, engine.sr)
        truth, merged = _word_truth(text, events, wave, SR / engine.sr)
        lead, tail = rng.uniform(0.25, 0.8), 0.3
        pad = int(lead * SR)
        wave = np.r_[np.zeros(pad, np.float32), wave, np.zeros(int(tail * SR), np.float32)]
        for t in truth:
            for key in ("start", "end"):
                if t[key] is not None:
                    t[key] = round(t[key] + pad / SR, 5)
        unverified = _verify(truth, wave)
        out.append(
            {
                "text": text,
                "voice": voice,
                "wpm": wpm,
                "wave": wave,
                "words": truth,
                "pauses_cut": cut,
                "merged": merged,
                "unverified": unverified,
                "lead_s": round(pad / SR, 5),
            }
        )
    return out


def _long_file(utterances: list[dict], min_s: float = 45.0) -> dict:
    waves, words, t = [], [], 0.0
    for u in utterances:
        waves.append(u["wave"])
        words += [
            {
                **w,
                "start": None if w["start"] is None else round(w["start"] + t, 5),
                "end": None if w["end"] is None else round(w["end"] + t, 5),
            }
            for w in u["words"]
        ]
        t += len(u["wave"]) / SR
        if t >= min_s:
            break
    return {
        "text": " ".join(w["word"] for w in words),
        "voice": "mixed",
        "wpm": 0,
        "wave": np.concatenate(waves),
        "words": words,
        "pauses_cut": 0,
        "merged": 0,
        "unverified": 0,
        "lead_s": utterances[0]["lead_s"],
    }


def _write(folder: Path, items: list[dict]) -> list[dict]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    meta = []
    for i, item in enumerate(items):
        name = f"{i:03d}.wav"
        sf.write(folder / name, item["wave"], SR, subtype="FLOAT")
        meta.append({k: v for k, v in item.items() if k != "wave"} | {"file": name})
    (folder / "truth.json").write_text(json.dumps(meta, indent=1))
    return meta


def build(cache_dir: Path) -> None:
    """Synthesise every set (clean and 20 dB) into ``cache_dir``."""
    engine = Espeak()
    rng = np.random.default_rng(17)
    for name in SETS:
        utterances = _utterances(engine, name, rng)
        noisy = [{**u, "wave": _add_noise(u["wave"], SNR_DB, rng)} for u in utterances]
        _write(cache_dir / f"{name}_clean", utterances)
        _write(cache_dir / f"{name}_snr20", noisy)
        if name == "report":
            _write(cache_dir / "report_long", [_long_file(utterances)])
    (cache_dir / "version.txt").write_text(str(VERSION))


def corpus(cache_dir: str | Path) -> dict[str, list[dict]]:
    """``{"tuning_clean": [...], "tuning_snr20": ..., "report_clean": ..., "report_snr20": ...,
    "report_long": [...]}``: each item has ``path``, ``text``, ``voice``, ``wpm``, ``words`` (truth)."""
    cache = Path(cache_dir)
    version = cache / "version.txt"
    if not version.is_file() or version.read_text() != str(VERSION):
        build(cache)
    out = {}
    for folder in sorted(p for p in cache.iterdir() if p.is_dir()):
        items = json.loads((folder / "truth.json").read_text())
        out[folder.name] = [{**item, "path": folder / item["file"]} for item in items]
    return out


if __name__ == "__main__":
    import sys

    target = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path.home() / ".cache" / "multiattn" / "espeak_corpus"
    )
    sets = corpus(target)
    for key, items in sets.items():
        words = [w for it in items for w in it["words"]]
        print(
            key,
            len(items),
            "files",
            len(words),
            "words",
            sum(w["start"] is not None for w in words),
            "scored starts",
            {k: sum(it[k] for it in items) for k in ("pauses_cut", "merged", "unverified")},
            round(sum(len(it["words"]) for it in items) / max(1, len(items)), 1),
            "words/file",
        )
