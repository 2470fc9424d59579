# rmflow: train and evaluate dORM / dPRM / gORM / gPRM across 14 domains, then plot best-of-N and
# weighted-vote curves.  Default: `snakemake --cores 2 all` (config/config.yaml, synthetic data, tiny
# backbone, CPU); on Slurm `snakemake --profile slurm TARGET`.  Paper: `--configfile=config/paper.yaml`.
# See config/README.md.

from snakemake.utils import min_version, validate

min_version("9.0")


# The embedded default, unless the user names config files (`--configfile`), which then replace it
# rather than being merged into it (merging would add the default's reward models to every config).
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"



validate(config, "config/schema.yaml")


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/backbone.smk"
include: "rules/critiques.smk"
include: "rules/train.smk"
include: "rules/reward.smk"
include: "rules/evaluate.smk"
include: "rules/analysis.smk"


localrules:
    all,
    critiques,
    export_data,
    export_test,
    export_rewards,


rule all:
    input:
        expand(f"{PLOT_DIR}/{{table}}{{suffix}}", table=TABLES, suffix=PLOT_SUFFIXES),
        [f"{RESULTS}/report/training_curves.png"] if models_with("train") else [],
    default_target: True


rule critiques:
    """The teacher chain on its own: generate -> preprocess -> [shorten] for gORM and gPRM."""
    input:
        [critiques_dir(task) for task in ("gORM", "gPRM")],
