# Helpers of rules/analysis.smk (`rmflow analyze`): output layout, config slice, flags; and the band the
# plots of rules/evaluate.smk draw from its accuracy table (`plot.band`).

from rmflow.names import ANALYSIS_FIGURES, ANALYSIS_TABLES, ANALYSIS_TEXTS  # the files `rmflow analyze` writes

ANALYSIS_DIR = f"{RESULTS}/analysis"
ANALYSIS_PLOT_DIR = f"{PLOT_DIR}/analysis"
#: analysis settings rendered as flags (replicas and step_labels are resolved below)
ANALYSIS_FLAG_KEYS = ("bootstrap", "ece_bins", "error_threshold", "length_buckets")


def analysis_cfg():
    return config.get("analysis", {})


def replica_source(entry):
    """A replica: a key of `reward_models` (its reward set as the pipeline makes it), or a reward set."""
    return reward_dir(entry) if entry in MODELS else entry.replace("{test}", TEST_SET)


def replicas():
    """Compared model -> its extra reward sets: `analysis.replicas` entries, then models with `replica_of`."""
    out = {}
    for name, entries in analysis_cfg().get("replicas", {}).items():
        if name not in COMPARED:
            raise ConfigError(f"analysis.replicas: {name!r} is not a compared reward model")
        out[name] = [replica_source(e) for e in entries]
    for name in MODELS:
        target = replica_of(name)
        if target is not None and reward_dir(name) not in out.get(target, []):
            out.setdefault(target, []).append(reward_dir(name))
    return out


def replica_inputs():
    """Replica reward sets that are files: made by the pipeline or local directories (not hub ids)."""
    return [path for sources in replicas().values() for s in sources for path in local_input(s)]


def step_labels():
    """The configured step-label source, else the generator's labels for a synthetic test set."""
    spec = analysis_cfg().get("step_labels")
    if spec:
        return spec
    if dataset("test")["source"] == "synth":
        return f"synth:{config['synth']['seed']}"
    return None


def analysis_params():
    return canonical(
        {
            "analysis": {k: analysis_cfg().get(k) for k in ANALYSIS_FLAG_KEYS},
            "replicas": replicas(),
            "step_labels": step_labels(),
            "evaluation": config["evaluation"],
            "models": [[name, m["strategy"]] for name, m in COMPARED.items()],
            "test": TEST,
            "category": CATEGORY,
        }
    )


def analysis_flags():
    reps = [f"{name}={s}" for name, sources in replicas().items() for s in sources]
    own = flags({k: analysis_cfg().get(k) for k in ANALYSIS_FLAG_KEYS}, skip=())
    extra = flags({"replicas": reps or None, "step_labels": step_labels(), "test_name": TEST}, skip=())
    return f"{evaluation_flags()} {own} {extra}".strip()


def reported(path, caption, subcategory):
    """An output shown in `snakemake --report` under Analysis."""
    return report(path, caption=f"../workflow/report/{caption}.rst", category="Analysis", subcategory=subcategory)


def analysis_outputs():
    tables = [reported(f"{ANALYSIS_DIR}/{t}.csv", "analysis_tables", "Tables") for t in ANALYSIS_TABLES]
    pngs = [reported(f"{ANALYSIS_PLOT_DIR}/{f}.png", f"analysis_{f}", "Figures") for f in ANALYSIS_FIGURES]
    lengths = [reported(f"{ANALYSIS_PLOT_DIR}/length_{m}.png", "analysis_length", "Length") for m in COMPARED]
    pdfs = [f"{ANALYSIS_PLOT_DIR}/{f}.pdf" for f in ANALYSIS_FIGURES]
    pdfs += [f"{ANALYSIS_PLOT_DIR}/length_{m}.pdf" for m in COMPARED]
    texts = [reported(f"{ANALYSIS_DIR}/{t}", "analysis_tables", "Tables") for t in ANALYSIS_TEXTS]
    return [*tables, *texts, f"{ANALYSIS_DIR}/summary.json", *pngs, *lengths, *pdfs]


# --------------------------------------------------------------------------- the plots' band (plot.band)

def band_inputs():
    """The analysis tables that `plot.band` draws from (none without it)."""
    if not config.get("plot", {}).get("band"):
        return []
    return [f"{ANALYSIS_DIR}/accuracy.csv", f"{ANALYSIS_DIR}/summary.json"]


def plot_flags():
    """`rmflow plot` flags of the `plot` section; `band` becomes `--band` with the analysis' accuracy table."""
    out = flags(config.get("plot", {}), skip={"band"})
    band = band_inputs()
    return f"{out} --band {sh(band[0])}" if band else out
