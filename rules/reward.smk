# Rewards for the test set (docs/formats.md#reward-files): score with a trained or published checkpoint,
# or export a
# published reward set. Output: results/rewards/{model}/{test}/{category}_reward.json.


rule reward:
    """Score every test CoT with a reward model (multi-GPU: one worker per GPU)."""
    input:
        data=lambda wc: dataset_dir("test"),
        checkpoint=lambda wc: checkpoint_input(wc.model),
    output:
        directory(f"{RESULTS}/rewards/{{model}}/{{test}}"),
    wildcard_constraints:
        model=any_of(models_with("train") + models_with("checkpoint")),
        test=re.escape(TEST),
    params:
        cfg=lambda wc: canonical(
            {
                "task_type": model(wc.model)["task_type"],
                "checkpoint": checkpoint_ref(wc.model),
                "scoring": scoring_cfg(wc.model),
                "category": CATEGORY,
            }
        ),
        flags=lambda wc: f"{checkpoint_flags(wc.model)} {flags(scoring_cfg(wc.model))}",
        task_type=lambda wc: model(wc.model)["task_type"],
    threads: job_threads("reward", "scoring")
    resources:
        **job_resources("reward", "scoring"),
    log:
        f"logs/reward/{{model}}_{{test}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/reward/{{model}}_{{test}}.tsv"
    conda:
        lambda wc: "../envs/vllm.yaml" if scoring_cfg(wc.model).get("backend") == "vllm" else "../envs/train.yaml"
    shell:
        stage(
            "reward",
            f"{LAUNCH} {{resources.gpu}} reward --task_type {{params.task_type}} --data_path {{input.data:q}} "
            f"--output_dir {{output:q}} --work_dir {sh(RESULTS)}/work/reward/{{wildcards.model:q}}/{{wildcards.test:q}} "
            f"--category {sh(CATEGORY)} {{params.flags}}"
        )


rule export_rewards:
    """A published reward set (`rewards:`, e.g. dongboklee/dORM-14B-{test}) exported for evaluation."""
    input:
        lambda wc: local_input(published_rewards(wc.model)),
    output:
        directory(f"{RESULTS}/rewards/{{model}}/{{test}}"),
    wildcard_constraints:
        model=any_of(models_with("rewards")),
        test=re.escape(TEST),
    params:
        cfg=lambda wc: canonical(
            {"rewards": published_rewards(wc.model), "revision": model(wc.model).get("revision"), "category": CATEGORY}
        ),
        flags=lambda wc: flags({"data_path": published_rewards(wc.model), "revision": model(wc.model).get("revision")}, skip=()),
    log:
        f"logs/export/rewards_{{model}}_{{test}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/export/rewards_{{model}}_{{test}}.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage("export_rewards", f"{RMFLOW} export --kind reward --output_dir {{output:q}} --category {sh(CATEGORY)} {{params.flags}}")
