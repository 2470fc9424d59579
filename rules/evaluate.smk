# Best-of-N / weighted-vote tables and their plots (docs/formats.md#evaluation-tables, #figures).

rule evaluate:
    """Best-of-N and weighted-vote accuracies (mean/std over runs) for MV, every reward model, Pass@N."""
    input:
        data=lambda wc: dataset_dir("test"),
        rewards=[reward_dir(n) for n in COMPARED],
    output:
        **{
            table: report(f"{EVAL_DIR}/{table}.csv", caption="../workflow/report/table.rst", category="Tables")
            for table in TABLES
        },
        summary=f"{EVAL_DIR}/summary.json",  # settings and counts: written by `rmflow evaluate`, recorded too
    params:
        cfg=lambda wc: evaluation_params(),
        flags=lambda wc: evaluation_flags(),
    log:
        "logs/evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage(
            "evaluate",
            f"{RMFLOW} evaluate --data_path {{input.data:q}} --output_dir {sh(EVAL_DIR)} --category {sh(CATEGORY)} "
            "{params.flags}"
        )


rule plot:
    """One panel per category (Overall first), x = N on a log2 axis; the Overall panel alone; the legend.
    With `plot.band`, each reward model's Overall curve gets the analysis' 95% bootstrap band."""
    input:
        table=f"{EVAL_DIR}/{{table}}.csv",
        band=lambda wc: band_inputs(),
    output:
        pdf=f"{PLOT_DIR}/{{table}}.pdf",
        png=report(f"{PLOT_DIR}/{{table}}.png", caption="../workflow/report/plot.rst", category="Plots"),
        overall_pdf=f"{PLOT_DIR}/{{table}}_overall.pdf",
        overall_png=f"{PLOT_DIR}/{{table}}_overall.png",
        legend_pdf=f"{PLOT_DIR}/{{table}}_legend.pdf",
        legend_png=f"{PLOT_DIR}/{{table}}_legend.png",
    wildcard_constraints:
        table="|".join(TABLES),
    params:
        cfg=lambda wc: canonical({"plot": config.get("plot", {})}),
        flags=lambda wc: plot_flags(),
    log:
        f"logs/plot/{{table}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot/{{table}}.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage(
            "plot",
            f"{RMFLOW} plot --input_file {{input.table:q}} --output_file {sh(PLOT_DIR)}/{{wildcards.table}} "
            f"--test_name {sh(TEST)} {{params.flags}}",
        )
