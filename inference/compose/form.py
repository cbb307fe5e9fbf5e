"""Where each lyric section is sung: the sheet's sections mapped in order onto the instrumental's.

A dynamic programme over (lyric sections placed, next free bar) chooses for each lyric section
its first bar and its bars per line. Costs: singing over the intro or the outro; a lyric
section starting anywhere but on a section of the music (or right after the previous lyric
section); a block crossing into music of another kind; a lyric kind (verse, chorus, bridge)
on music of another role; lines whose syllable rate falls outside what songs use (about
1.5-5 syllables a second) or whose length is far from a sung line's (3-8 s); bars of a sung
section left empty after its lines; music skipped in the middle of the song (an instrumental
break is allowed, but costs). Music after the last lyric section is free: a short sheet leaves
the rest instrumental.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from host_bridge.core.errors import LyricsError
from host_bridge.core.model import Score, TempoMap
from inference.analysis.result import Analysis, Section, beat_qn
from inference.compose.plan import bars_needed

_KINDS = (("chorus", re.compile(r"chorus|hook|refrain", re.I)), ("bridge", re.compile(r"bridge|middle", re.I)),
          ("pre", re.compile(r"pre", re.I)), ("outro", re.compile(r"outro|coda|tag", re.I)))
BPL = (1, 2, 3, 4)
"""Bars per line the planner chooses from (a long line takes more)."""
MAX_RATE = 5.0
MIN_RATE = 1.5
LINE_S = (3.0, 8.0)
_INF = 1e9


@dataclass(frozen=True)
class Placement:
    section: int
    """Index of the lyric section."""
    first_bar: int
    line_bars: tuple[int, ...]
    """Bars each line gets."""
    music: str
    """The label and role of the music under the first line, e.g. ``B chorus``."""

    @property
    def last_bar(self) -> int:
        return self.first_bar + sum(self.line_bars) - 1


def lyric_kinds(names: Sequence[str], texts: Sequence[tuple[str, ...]]) -> list[str]:
    """"verse", "chorus", "bridge", "pre" or "outro" per lyric section: from its header, else a
    section whose words come back is a chorus."""
    out = []
    for i, (name, t) in enumerate(zip(names, texts)):
        kind = next((k for k, rx in _KINDS if rx.search(name)), "")
        if not kind:
            kind = "chorus" if sum(t == u for u in texts) > 1 and len(t) > 0 else "verse"
        out.append(kind)
    return out


class _Music:
    """Per-bar facts about the instrumental the costs read."""

    def __init__(self, an: Analysis) -> None:
        self.tm: TempoMap = an.tempo_map
        self.bars = max(0, an.bars)
        secs = list(an.sections) or [Section(1, max(1, self.bars), "A", "verse", 0.0, 0.0)]
        self.sections = secs
        n = self.bars + 2
        self.sec = np.zeros(n, dtype=int)
        for si, s in enumerate(secs):
            self.sec[max(1, s.first_bar):min(n, s.last_bar + 1)] = si
        self.free = np.zeros(n)          # cost of singing in this bar (intro/outro)
        for s in secs:
            if s.role in ("intro", "outro"):
                self.free[s.first_bar:min(n, s.last_bar + 1)] = 1.0
        self.free_cs = np.concatenate([[0.0], np.cumsum(self.free)])
        self.starts = {s.first_bar for s in secs}
        self.bar_s = np.array([self._bar_s(b) for b in range(n)])
        self.has_sections = bool(an.sections)
        self.has_chorus = any(s.role == "chorus" for s in secs)

    def _bar_s(self, bar: int) -> float:
        b = max(1, bar)
        return self.tm.seconds_at(self.tm.qn_at_bar(b + 1)) - self.tm.seconds_at(self.tm.qn_at_bar(b))

    def role(self, bar: int) -> str:
        return self.sections[int(self.sec[min(bar, self.bars)])].role

    def label(self, bar: int) -> str:
        return self.sections[int(self.sec[min(bar, self.bars)])].label

    def singing_in_free(self, a: int, b: int) -> float:
        return float(self.free_cs[b + 1] - self.free_cs[a])

    def section_end(self, bar: int) -> int:
        return self.sections[int(self.sec[min(bar, self.bars)])].last_bar


_ROLE_COST = {"chorus": {"chorus": 0.0}, "verse": {"verse": 0.0, "chorus": 0.5},
              "bridge": {"bridge": 0.0, "verse": 0.3}, "pre": {"verse": 0.1, "bridge": 0.1}}


def _line_cost(syl: int, bars: int, bar_s: float, beat_s: float) -> float:
    line_s = bars * bar_s
    sung = max(0.3, line_s - beat_s) * 0.85
    rate = syl / sung
    c = 0.0
    if rate > MAX_RATE:
        c += 2.0 * (rate / MAX_RATE - 1.0) * 4
    if rate < MIN_RATE:
        c += 0.6 * (MIN_RATE / max(rate, 0.1) - 1.0)
    if line_s < LINE_S[0]:
        c += 0.5 * (LINE_S[0] / line_s - 1.0)
    if line_s > LINE_S[1]:
        c += 0.4 * (line_s / LINE_S[1] - 1.0)
    return c


def place_sections(sections: Sequence[tuple[str, int, int]], syls: Sequence[Sequence[object]], an: Analysis,
                   kinds: Sequence[str]) -> list[Placement]:
    """One :class:`Placement` per lyric section, in order. Raises LyricsError (saying how many
    lines fit and up to which bar) when the sheet needs more bars than the instrumental has."""
    mu = _Music(an)
    B = mu.bars
    L = len(sections)
    best = [dict() for _ in range(L + 1)]  # type: list[dict[int, tuple[float, tuple[int, int, tuple[int, ...]] | None, int]]]
    first_free = 1
    while first_free <= B and mu.free[first_free] and mu.role(first_free) == "intro":
        first_free += 1
    best[0][1] = (0.0, None, -1)
    for i, (name, first, last) in enumerate(sections):
        nsyl = [len(syls[li]) for li in range(first, last + 1)]
        for p, (cost0, _, _) in sorted(best[i].items()):
            for start in _candidates(mu, p, i):
                skip = _skip_cost(mu, p, start, i == 0)
                for bpl in BPL:
                    lb = tuple(max(bpl, bars_needed(mu.tm, start, n)) for n in nsyl)
                    end = start + sum(lb) - 1
                    if end > B:
                        continue
                    c = cost0 + skip + _place_cost(mu, start, end, lb, nsyl, kinds[i], p)
                    prev = best[i + 1].get(end + 1)
                    if prev is None or c < prev[0] - 1e-9:
                        best[i + 1][end + 1] = (c, (start, bpl, lb), p)
    if not best[L]:
        _too_long(sections, syls, mu, first_free)
    p = min(best[L], key=lambda q: (best[L][q][0], q))
    out: list[Placement] = []
    for i in range(L, 0, -1):
        _, choice, prev_p = best[i][p]
        assert choice is not None
        start, _, lb = choice
        out.append(Placement(i - 1, start, lb, f"{mu.label(start)} {mu.role(start)}"))
        p = prev_p
    out.reverse()
    return out


def _candidates(mu: _Music, p: int, i: int) -> list[int]:
    """First bars worth trying for the next lyric section after bar ``p`` - 1."""
    c = {p} | {s for s in mu.starts if s >= p}
    sec_end = mu.section_end(p)
    c |= {b for b in range(p, min(sec_end, mu.bars) + 1) if (b - mu.sections[int(mu.sec[b])].first_bar) % 4 == 0}
    return sorted(b for b in c if 1 <= b <= mu.bars)


def _skip_cost(mu: _Music, p: int, start: int, first: bool) -> float:
    """Bars p..start-1 left instrumental before a lyric section."""
    if start <= p:
        return 0.0
    plain = (start - p) - mu.singing_in_free(p, start - 1)
    gap = 0.12 * plain if not first else 0.25 * plain
    return gap + (0.3 if start - p >= 2 else 0.0) * (not first)


def _place_cost(mu: _Music, start: int, end: int, lb: tuple[int, ...], nsyl: list[int], kind: str, p: int) -> float:
    c = 3.0 * mu.singing_in_free(start, end)
    if start not in mu.starts and mu.has_sections:
        c += 1.2 if start == p else 1.0
    # crossing into music of another label (the first bar of the block excepted)
    c += 0.8 * sum(1 for b in range(start + 1, end + 1) if mu.sec[b] != mu.sec[b - 1]
                   and mu.label(b) != mu.label(start) and b != end + 1)
    role = mu.role(start)
    if mu.has_sections:
        c += _ROLE_COST.get(kind, {}).get(role, 2.0 if kind == "chorus" and mu.has_chorus else 0.3)
    bar = start
    beat_s = mu.bar_s[start] * beat_qn(*_meter(mu, start)) / mu.tm.meter_at_bar(start).bar_qn
    for n, b in zip(nsyl, lb):
        c += _line_cost(n, b, float(mu.bar_s[min(bar, mu.bars)]), beat_s)
        bar += b
    # empty bars left at the end of the music section the block ends in
    if mu.has_sections and mu.role(end) not in ("intro", "outro"):
        tail = mu.section_end(end) - end
        if 0 < tail:
            c += 0.15 * min(tail, 8)
    return c


def _meter(mu: _Music, bar: int) -> tuple[int, int]:
    m = mu.tm.meter_at_bar(bar)
    return m.numerator, m.denominator


def _too_long(sections: Sequence[tuple[str, int, int]], syls: Sequence[Sequence[object]], mu: _Music,
              first_bar: int) -> None:
    n_lines = sum(last - first + 1 for _, first, last in sections)
    fit, bar = 0, first_bar
    for _, first, last in sections:
        for li in range(first, last + 1):
            nb = bars_needed(mu.tm, bar, len(syls[li]))
            if bar + nb - 1 > mu.bars:
                break
            bar += nb
            fit += 1
        else:
            continue
        break
    need = sum(bars_needed(mu.tm, first_bar, len(syls[li])) for _, f, la in sections for li in range(f, la + 1))
    end_s = mu.tm.seconds_at(mu.tm.qn_at_bar(bar))
    raise LyricsError(
        f"the lyrics need {need} bars but the instrumental has {mu.bars} bars: {fit} of the {n_lines} lines fit "
        f"(bars {first_bar}-{bar - 1}, up to {int(end_s // 60)}:{end_s % 60:04.1f})",
        f"shorten the lyrics to {fit} lines or give a longer instrumental")


def line_starts(pl: Placement) -> list[int]:
    """First bar of each line of a placement."""
    out, bar = [], pl.first_bar
    for b in pl.line_bars:
        out.append(bar)
        bar += b
    return out


def describe(pls: Sequence[Placement], names: Sequence[str]) -> list[str]:
    """One line per lyric section: where it is sung."""
    return [f"{names[p.section]}: bars {p.first_bar}-{p.last_bar} over {p.music} "
            f"({', '.join(str(b) for b in p.line_bars)} bars per line)" for p in pls]


def crowding_warnings(pls: Sequence[Placement], names: Sequence[str], an: Analysis) -> list[str]:
    """What a musician should hear before the take renders when the sheet has more sections than
    the instrumental has room for: lyric sections sung over the intro or the outro, or sharing one
    section of the music."""
    out = []
    free = [s for s in an.sections if s.role in ("intro", "outro")]
    for p in pls:
        hit = [s for s in free if s.first_bar <= p.last_bar and p.first_bar <= s.last_bar]
        if hit:
            out.append(f"the sheet has more to sing than the instrumental's verses and choruses hold: "
                       f"{names[p.section]} is sung over the {hit[0].role} (bars {p.first_bar}-{p.last_bar})")
    starts = {s.first_bar: s for s in an.sections}
    for a, b in zip(pls, pls[1:]):
        if an.sections and b.first_bar not in starts and b.first_bar == a.last_bar + 1:
            out.append(f"{names[a.section]} and {names[b.section]} share one section of the instrumental "
                       f"(bars {a.first_bar}-{b.last_bar}): the sheet has more sections than the song; "
                       "shorten it or give a longer instrumental")
    return out


def plan_dict(an: Analysis, score: Score, placements: Sequence[Placement], names: Sequence[str]) -> dict[str, Any]:
    """The composer's plan as plain data (``topline compose --json``): the instrumental's sections,
    where each lyric section and line is sung (bars and seconds), and the notes per line."""
    tm = an.tempo_map

    def sec(bar: int) -> float:
        return round(tm.seconds_at(tm.qn_at_bar(bar)), 3)

    lines: dict[int, list[Any]] = {}
    for n in score.notes:
        lines.setdefault(n.line, []).append(n)
    out_lines = []
    for li, notes in sorted(lines.items()):
        a, b = notes[0].onset, notes[-1].onset + notes[-1].duration
        syl = sum(not n.is_melisma for n in notes)
        out_lines.append({"line": li, "text": score.lines[li] if li < len(score.lines) else "",
                          "bar": tm.bar_beat_at(a + 1e-6)[0], "start_s": round(tm.seconds_at(a), 3),
                          "end_s": round(tm.seconds_at(b), 3), "notes": len(notes), "syllables": syl,
                          "syllables_per_s": round(syl / max(1e-3, tm.seconds_at(b) - tm.seconds_at(a)), 2)})
    return {
        "tempo_bpm": round(an.grid.bpm, 3), "meter": f"{an.grid.numerator}/{an.grid.denominator}",
        "key": an.key.name, "bars": an.bars,
        "sections": [{"label": s.label, "role": s.role, "first_bar": s.first_bar, "last_bar": s.last_bar,
                      "start_s": sec(s.first_bar)} for s in an.sections],
        "lyric_sections": [{"name": names[p.section] if p.section < len(names) else "", "first_bar": p.first_bar,
                            "last_bar": p.last_bar, "bars_per_line": list(p.line_bars), "over": p.music,
                            "start_s": sec(p.first_bar)} for p in placements],
        "lines": out_lines,
        "warnings": list(an.warnings),
    }
