"""The benchmark's metrics for an unlearned text-to-image model.

Answer sets (``answers``, made by ``generate``), classified into per-concept accuracy
(``accuracy``), scored as UA, IRA and CRA (``scores``) or at the finer style-object scale
(``finer_scale``), gathered into the benchmark's table (``summarize``), its heat map, sequential
curves (``sequence``) and an HTML report. FID (``fid``), and the cost columns: time and memory
(``profile``), storage (``storage``), ``efficiency``. Definitions follow the UnlearnCanvas paper
and release, and every result states the ones it used.
"""
