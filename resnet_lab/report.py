"""What a reader sees first in a chapter: a summary card generated from the chapter's ledger rows, and the words
that say what a profile trained (counts and recipes read from the result's config, never typed)."""
from __future__ import annotations

import html
import math

from .ledger import VERDICT_COLORS, Claim, on_paper_networks

OWN_MARK = "★"   # the card's mark of a row that rests on the paper's own networks (``ledger.on_paper_networks``)


def badge(verdict: str) -> str:
    """Return an HTML badge for a verdict, in the book's verdict colour."""
    text = "black" if verdict in ("partly", "not run") else "white"
    return (f'<span style="background:{VERDICT_COLORS[verdict]};color:{text};padding:1px 6px;'
            f'border-radius:8px;font-size:85%;white-space:nowrap">{html.escape(verdict)}</span>')


def summary_card_html(chapter, claims: list[Claim]) -> str:
    """Return the chapter's summary card as HTML: the paper, each claim with its verdict badge, gate and profile.

    ``chapter``: the chapter's ``Chapter`` record (``resnet_lab.experiments``), which names its ledger and title.
    """
    label, title = chapter.ledger, chapter.title
    profiles = sorted({c.profile for c in claims if c.profile}) or ["—"]
    rows = []
    for c in claims:
        gate = ""
        if c.gate is not None:
            gate = "gate met" if c.gate["met"] else "gate unmet"
        note = html.escape(c.reason if c.verdict in ("inconclusive", "not run") else c.value)
        own = f' <span title="on the paper\'s own networks">{OWN_MARK}</span>' if on_paper_networks(c) else ""
        rows.append(f"<tr><td><b>{c.id}</b>{own}</td><td>{badge(c.verdict)}</td>"
                    f"<td>{html.escape(c.statement)}</td><td style='font-size:85%'>{gate}</td>"
                    f"<td style='font-size:80%'>{note[:220]}</td></tr>")
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICT_COLORS}
    tally = " ".join(f"{badge(v)}&nbsp;{n}" for v, n in counts.items() if n)
    return (f"<div class='summary-card' style='border:1px solid #ccc;border-radius:6px;padding:8px 12px'>"
            f"<p><b>{label}: <i>{html.escape(title)}</i></b> — profile {', '.join(profiles)}. {tally}"
            + (f" {OWN_MARK}: on the paper's own networks." if any(on_paper_networks(c) for c in claims) else "") + "</p>"
            f"<table style='font-size:90%'><tr><th>claim</th><th>verdict</th><th>statement</th><th>gate</th>"
            f"<th>measured / why</th></tr>{''.join(rows)}</table></div>")


def summary_card(chapter, claims: list[Claim]):
    """Return the summary card as an object Jupyter displays (``IPython.display.HTML``)."""
    from IPython.display import HTML

    return HTML(summary_card_html(chapter, claims))


_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count(n: int, noun: str) -> str:
    """Return ``n`` times ``noun`` in words up to ten ("three seeds", "one seed"), in digits beyond ("12 seeds")."""
    return f"{_WORDS[n] if 0 <= n < len(_WORDS) else n} {noun}{'' if n == 1 else 's'}"


def listed(items) -> str:
    """Return items joined as prose: "20", "20 and 83", "20, 56 and 110"."""
    items = [str(i) for i in items]
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]


def compact(x: float) -> str:
    """Return ``x`` as written in papers' recipes: 5e-4 rather than 0.0005."""
    if x == 0 or 1e-2 <= abs(x) < 1e4:
        return f"{x:g}"
    exponent = math.floor(math.log10(abs(x)))
    return f"{x / 10 ** exponent:g}e{exponent}"


def recipe_text(train: dict) -> str:
    """Return a training recipe, a ``TrainConfig`` as a result stores it, in words: "16 epochs of a step schedule
    (lr 0.1, ÷10 at 50% and 75%), batch 128, Nesterov, weight decay 5e-4"."""
    lr = f"{train['lr']:g}"
    schedule = {"step": lambda: f"a step schedule (lr {lr}, ÷{1 / train['gamma']:g} at "
                                f"{listed(f'{m:.0%}' for m in train['milestones'])})",
                "onecycle": lambda: f"a one-cycle schedule (to lr {lr} over the first "
                                    f"{train['warmup_fraction']:.0%} of steps, then down)",
                "cosine": lambda: f"a cosine schedule from lr {lr}",
                "constant": lambda: f"a constant lr {lr}"}
    if train["schedule"] not in schedule:
        raise ValueError(f"recipe_text: unknown schedule {train['schedule']!r}; valid: {', '.join(schedule)}")
    capped, length = train.get("max_steps_per_epoch"), count(train["epochs"], "epoch")
    if capped:
        length = f"{capped} steps" if train["epochs"] == 1 else f"{length} of at most {capped} steps"
    parts = [f"{length} of {schedule[train['schedule']]()}", f"batch {train['batch_size']}"]
    optimizer = train.get("optimizer", "sgd")
    parts += [{"adam": "Adam"}.get(optimizer, optimizer)] * (optimizer != "sgd")
    parts += ["Nesterov"] * bool(train.get("nesterov"))
    parts += [f"weight decay {compact(train['weight_decay'])}" if train["weight_decay"] else "no weight decay"]
    parts += [f"label smoothing {train['label_smoothing']:g}"] * bool(train.get("label_smoothing"))
    parts += ["no augmentation"] * (not train.get("augment", True))
    return ", ".join(parts)


_DATASETS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "mnist": "MNIST", "imagefolder": "an image folder"}


def data_text(data: dict) -> str:
    """Return a ``DataSpec`` as a result stores it in words: "all of CIFAR-10", "30 training images a class of
    CIFAR-10", "2 classes of MNIST"."""
    name = _DATASETS.get(data["name"], data["name"])
    parts = [f"{len(data['classes'])} classes"] if data.get("classes") else []
    if data.get("train_per_class"):
        parts.insert(0, f"{data['train_per_class']} training images a class")
    return " and ".join(parts) + f" of {name}" if parts else f"all of {name}"
