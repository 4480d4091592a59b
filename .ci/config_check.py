"""Runs `vtenrich config --check` against every configuration the project ships.

The example TOML file; every rendered kustomization (the vtenrich container's environment:
the image's ENV, its ConfigMaps through envFrom, its literal env entries); every compose stack
(the resolved `environment:` of each vtenrich service). Each is checked with exactly that
environment, so a misspelt or invalid variable in a deploy file fails CI as it would fail the
pod. Usage: config_check.py BINARY RENDERED_KUSTOMIZATION.yaml...
"""

import os
import re
import subprocess
import sys

import yaml

BINARY = sys.argv[1]
RENDERED = sys.argv[2:]


def image_env():
    """The Dockerfile's ENV VTENRICH_* lines: every container starts with them."""
    env = {}
    for line in open("Dockerfile", encoding="utf-8"):
        m = re.match(r"^ENV\s+(VTENRICH_[A-Z0-9_]+)=(\S+)", line)
        if m:
            env[m.group(1)] = m.group(2)
    return env


def check(name, env, args=()):
    clean = {"PATH": os.environ.get("PATH", "")}
    clean.update(env)
    result = subprocess.run(
        [BINARY, "config", "--check", *args],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )
    status = "ok" if result.returncode == 0 else "FAILED"
    print(f"-- vtenrich config --check: {name}: {status}")
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
    return result.returncode == 0


def kubernetes(path):
    docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d.get("kind") == "ConfigMap"
    }
    for doc in docs:
        if doc.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            if "vtenrich" not in container.get("image", ""):
                continue
            env = image_env()
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef")
                if ref:
                    env.update(config_maps[ref["name"]])
            for entry in container.get("env", []):
                if "value" in entry:
                    env[entry["name"]] = entry["value"]
            name = f"{os.path.basename(path)} {doc['metadata']['name']}/{container['name']}"
            yield name, {k: v for k, v in env.items() if k.startswith("VTENRICH_")}


def compose(files):
    args = ["docker-compose"]
    for f in files:
        args += ["-f", f"deploy/compose/{f}"]
    resolved = yaml.safe_load(subprocess.run(
        [*args, "config"], capture_output=True, text=True, check=True).stdout)
    for service, spec in resolved.get("services", {}).items():
        if "vtenrich" not in str(spec.get("image", "")):
            continue
        env = image_env()
        environment = spec.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        env.update({k: str(v) for k, v in environment.items() if v is not None})
        yield f"{' + '.join(files)} {service}", env


ok = check("config/vtenrich.example.toml", {}, ["--config", "config/vtenrich.example.toml"])
for path in RENDERED:
    for name, env in kubernetes(path):
        ok &= check(name, env)
for files in (["compose.yaml"], ["compose.redis.yaml"], ["compose.yaml", "compose.vt-key.yaml"]):
    for name, env in compose(files):
        ok &= check(name, env)
sys.exit(0 if ok else 1)
