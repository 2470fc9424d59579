# Backbones built locally (the tiny Qwen2-style model of the default config). Hub backbones need no rule.


rule init_backbone:
    """Build and pre-train a tiny backbone on the synthetic corpus (`backbones.NAME.build`)."""
    input:
        synth_dirs,
    output:
        directory(f"{RESULTS}/backbones/{{backbone}}"),
    wildcard_constraints:
        backbone=any_of(built_backbones()),
    params:
        cfg=lambda wc: canonical({"build": backbone(wc.backbone)["build"]}),
        flags=lambda wc: flags(backbone(wc.backbone)["build"]),
    threads: job_threads("init_backbone")
    resources:
        **job_resources("init_backbone"),
    log:
        f"logs/backbones/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/backbones/{{backbone}}.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        stage("init_backbone", f"{RMFLOW} init-backbone --output_dir {{output:q}} --corpus_dir {sh(SYNTH_DIR)} {{params.flags}}")
