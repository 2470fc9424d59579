# Analyses beyond the paper's tables (`rmflow analyze`): uncertainty, selection rules and domain groups,
# verifier metrics, length, seed replicas. Target `analysis`; settings in the `analysis` config section.
# Tables: results/analysis/*.csv; figures: results/plots/analysis/*.{pdf,png} (in `snakemake --report`).

include: "analysis_helpers.smk"


rule analyze:
    """Uncertainty, every selection rule x aggregation, groups, verifier metrics, length and replicas."""
    input:
        data=lambda wc: dataset_dir("test"),
        rewards=[reward_dir(n) for n in COMPARED],
        replicas=lambda wc: replica_inputs(),
    output:
        analysis_outputs(),
    params:
        cfg=lambda wc: analysis_params(),
        flags=lambda wc: analysis_flags(),
    log:
        "logs/analyze.log",
    benchmark:
        f"{RESULTS}/benchmarks/analyze.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage(
            "analyze",
            f"{RMFLOW} analyze --data_path {{input.data:q}} --output_dir {sh(ANALYSIS_DIR)} --plot_dir {sh(ANALYSIS_PLOT_DIR)} "
            f"--category {sh(CATEGORY)} {{params.flags}}"
        )


rule analysis:
    """Target: every table and figure of `rmflow analyze`."""
    input:
        rules.analyze.output,


localrules:
    analysis,
