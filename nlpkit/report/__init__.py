"""``nlpkit report``: one self-contained HTML page about a finished run, from its run
directory alone (recipe, metrics.json, the logs and the saved predictions of a split).

Every run writes one for its validation split (else its test split) as ``report.html``;
``nlpkit report RUN_DIR --split test`` writes ``report-test.html``.
"""

from __future__ import annotations

import os
from pathlib import Path

from nlpkit.rundir import RunDir, replacing

__all__ = ["write_report"]


def write_report(
    run_dir: str | os.PathLike[str], split: str | None = None, output: str | os.PathLike[str] | None = None
) -> Path:
    """Write the report of ``split`` (default: validation if scored, else test) of the
    finished run in ``run_dir`` to ``output`` (default: the run directory's report file
    of that split); returns its path. :class:`nlpkit.errors.RunDirError` for a run that
    lacks what the report reads."""
    from nlpkit.report.facts import default_split, read_facts
    from nlpkit.report.render import render

    run = RunDir(run_dir)
    split = split or default_split(run)
    page = render(read_facts(run, split))
    target = Path(output) if output is not None else run.report(split)
    with replacing(target) as partial:
        partial.write_text(page, encoding="utf-8")
    return target
