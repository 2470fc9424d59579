# Datasets: the embedded synthetic sets, or exports of hub ids / local directories (validated JSONL).


rule synth:
    """Embedded synthetic multi-domain data: every kind of SYNTH_KINDS and the summary, in one pass."""
    output:
        **{kind: directory(f"{SYNTH_DIR}/{kind}") for kind in SYNTH_KINDS},
        summary=f"{SYNTH_DIR}/{SYNTH_SUMMARY}",
    params:
        cfg=lambda wc: canonical({"synth": config["synth"], "category": CATEGORY}),
        flags=lambda wc: flags(config["synth"]),
    log:
        "logs/synth.log",
    benchmark:
        f"{RESULTS}/benchmarks/synth.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage("synth", f"{RMFLOW} synth --output_dir {sh(SYNTH_DIR)} --category {sh(CATEGORY)} {{params.flags}}")


rule export_data:
    """A training set (train, train_gORM, train_gPRM) from a hub id or a local directory."""
    input:
        lambda wc: local_input(dataset(wc.kind)["source"]),
    output:
        directory(f"{RESULTS}/data/{{kind}}"),
    wildcard_constraints:
        kind="|".join(TRAIN_KINDS),
    params:
        cfg=lambda wc: canonical({"dataset": dataset(wc.kind), "kind": wc.kind, "category": CATEGORY}),
        flags=lambda wc: flags({"data_path": dataset(wc.kind)["source"], "revision": dataset(wc.kind).get("revision")}, skip=()),
    log:
        f"logs/export/{{kind}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/export/{{kind}}.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage("export_data", f"{RMFLOW} export --kind {{wildcards.kind}} --output_dir {{output:q}} --category {sh(CATEGORY)} {{params.flags}}")


rule export_test:
    """The test set (datasets.test) from a hub id or a local directory."""
    input:
        lambda wc: local_input(dataset("test")["source"]),
    output:
        directory(f"{RESULTS}/data/test/{{test}}"),
    wildcard_constraints:
        test=re.escape(TEST),
    params:
        cfg=lambda wc: canonical({"dataset": dataset("test"), "category": CATEGORY}),
        flags=lambda wc: flags({"data_path": dataset("test")["source"], "revision": dataset("test").get("revision")}, skip=()),
    log:
        f"logs/export/test_{{test}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/export/test_{{test}}.tsv"
    conda:
        "../envs/light.yaml"
    shell:
        stage("export_test", f"{RMFLOW} export --kind test --output_dir {{output:q}} --category {sh(CATEGORY)} {{params.flags}}")
