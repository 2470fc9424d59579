# Reward-model training: one job per reward model with a `train:` source.


rule train_rm:
    """Train a reward model (d*: token-classification LoRA; g*: SFT LoRA) from a preset."""
    input:
        data=lambda wc: train_data_dir(wc.model),
        backbone=lambda wc: backbone_input(model(wc.model)["train"]["backbone"]),
    output:
        directory(f"{RESULTS}/checkpoints/{{model}}"),
    wildcard_constraints:
        model=any_of(models_with("train")),
    params:
        cfg=lambda wc: train_params(wc.model),
        flags=lambda wc: train_flags(wc.model),
        task_type=lambda wc: model(wc.model)["task_type"],
    threads: job_threads("train", "train")
    resources:
        **job_resources("train", "train"),
    log:
        f"logs/train/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{model}}.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        stage(
            "train_rm",
            f"{LAUNCH} {{resources.gpu}} train --task_type {{params.task_type}} --data_path {{input.data:q}} "
            f"--output_dir {{output:q}} --work_dir {sh(RESULTS)}/work/train/{{wildcards.model:q}} "
            f"--category {sh(CATEGORY)} {{params.flags}}"
        )


rule training_curves:
    """Training-loss curves of every trained reward model (for the report)."""
    input:
        [checkpoint_dir(name) for name in models_with("train")],
    output:
        report(
            f"{RESULTS}/report/training_curves.png",
            caption="../workflow/report/train.rst",
            category="Training",
        ),
    params:
        cfg=lambda wc: canonical({"models": models_with("train")}),
        flags=lambda wc: flags({"names": models_with("train")}),
    log:
        "logs/training_curves.log",
    benchmark:
        f"{RESULTS}/benchmarks/training_curves.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage(
            "training_curves",
            'python "$RMFLOW_ROOT/workflow/scripts/training_curves.py" --checkpoints {input:q} '
            "--output {output:q} {params.flags}",
        )
