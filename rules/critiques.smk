# Teacher critique chain for gORM / gPRM training data (docs/formats.md#teacher-critiques):
# generate -> preprocess (filter + balance) -> [shorten]. Target: `critiques`.


rule generate_critiques:
    """Sample teacher critiques of the training CoTs (n per CoT)."""
    input:
        data=lambda wc: dataset_dir("train"),
        teacher=lambda wc: backbone_input(teacher()["backbone"]),
    output:
        directory(f"{RESULTS}/critiques/{{task}}/generated"),
    wildcard_constraints:
        task="gORM|gPRM",
    params:
        cfg=lambda wc: canonical(
            {"task_type": wc.task, "teacher": {**teacher(), "backbone": backbone_ref(teacher()["backbone"])}, "category": CATEGORY}
        ),
        flags=lambda wc: f"{backbone_flags(teacher()['backbone'])} {flags(teacher())}",
    threads: job_threads("generate")
    resources:
        **job_resources("generate"),
    log:
        f"logs/critiques/{{task}}_generate.log",
    benchmark:
        f"{RESULTS}/benchmarks/critiques/{{task}}_generate.tsv"
    conda:
        lambda wc: "../envs/vllm.yaml" if teacher().get("backend") == "vllm" else "../envs/train.yaml"
    shell:
        stage(
            "generate_critiques",
            f"{RMFLOW} generate --task_type {{wildcards.task}} --data_path {{input.data:q}} "
            f"--output_dir {{output:q}} --work_dir {sh(RESULTS)}/work/critiques/{{wildcards.task:q}} "
            f"--category {sh(CATEGORY)} {{params.flags}}"
        )


rule preprocess_critiques:
    """Filter (duplicate, think, chinese, 0 cot, not parsable, incorrect label, length) and balance."""
    input:
        data=rules.generate_critiques.output,
        tokenizer=lambda wc: backbone_input(critiques_cfg()["backbone"]),
    output:
        report(
            directory(f"{RESULTS}/critiques/{{task}}/preprocessed"),
            patterns=["{name}.json"],  # stats.json (the data files are .jsonl)
            caption="../workflow/report/preprocess.rst",
            category="Teacher critiques",
            subcategory="{task}",
        ),
    wildcard_constraints:
        task="gORM|gPRM",
    params:
        cfg=lambda wc: canonical(
            {
                "task_type": wc.task,
                "max_tokens": critiques_cfg()["max_tokens"],
                "seed": critiques_cfg()["seed"],
                "tokenizer": backbone_ref(critiques_cfg()["backbone"]),
                "category": CATEGORY,
            }
        ),
        flags=lambda wc: f"{backbone_flags(critiques_cfg()['backbone'])} {flags(critiques_cfg())}",
    log:
        f"logs/critiques/{{task}}_preprocess.log",
    benchmark:
        f"{RESULTS}/benchmarks/critiques/{{task}}_preprocess.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        stage(
            "preprocess_critiques",
            f"{RMFLOW} preprocess --task_type {{wildcards.task}} --data_path {{input.data:q}} "
            f"--output_dir {{output:q}} --category {sh(CATEGORY)} {{params.flags}}"
        )


rule shorten_critiques:
    """Cut critiques right after the verdict (optional: critiques.shorten)."""
    input:
        rules.preprocess_critiques.output,
    output:
        directory(f"{RESULTS}/critiques/{{task}}/shortened"),
    wildcard_constraints:
        task="gORM|gPRM",
    params:
        cfg=lambda wc: canonical({"task_type": wc.task, "category": CATEGORY}),
    log:
        f"logs/critiques/{{task}}_shorten.log",
    benchmark:
        f"{RESULTS}/benchmarks/critiques/{{task}}_shorten.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage(
            "shorten_critiques",
            f"{RMFLOW} shorten --task_type {{wildcards.task}} --data_path {{input:q}} "
            f"--output_dir {{output:q}} --category {sh(CATEGORY)}"
        )
