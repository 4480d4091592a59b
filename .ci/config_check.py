"""Runs `vtenrich config --check` against every configuration the project ships.

The example TOML file; every rendered kustomization (the vtenrich container's environment:
the image's ENV, its ConfigMaps through envFrom, its literal env entries); every compose stack
(the resolved `environment:` of each vtenrich service). Each is checked with exactly that
environment, so a misspelt or invalid variable in a deploy file fails CI as it would fail the
pod. Usage: config_check.py BINARY RENDERED_KUSTOMIZATION.yaml...
"""

import hashlib
import os
import re
import subprocess
import sys
import tempfile

import yaml

BINARY = sys.argv[1]
RENDERED = sys.argv[2:]

# Config files the operator creates as Secrets (never rendered), checked through the example
# that documents their shape, its placeholders replaced by a hash nobody published.
SECRET_EXAMPLES = {
    "vtenrich-callers": "deploy/kubernetes/overlays/production/callers.example.toml",
}


def image_env():
    """The Dockerfile's ENV VTENRICH_* lines: every container starts with them."""
    env = {}
    for line in open("Dockerfile", encoding="utf-8"):
        m = re.match(r"^ENV\s+(VTENRICH_[A-Z0-9_]+)=(\S+)", line)
        if m:
            env[m.group(1)] = m.group(2)
    return env


def secret_config(spec, container, path, workdir):
    """The example standing in for the Secret-mounted file at `path`, filled in."""
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    for volume in spec.get("volumes", []):
        mount = mounts.get(volume["name"])
        secret = volume.get("secret", {}).get("secretName")
        if mount and secret and path.startswith(mount.rstrip("/") + "/"):
            example = SECRET_EXAMPLES.get(secret)
            if example is None:
                sys.exit(f"config_check: {path} comes from Secret {secret}, which has no example")
            text = open(example, encoding="utf-8").read()
            filled = re.sub(r'"<[^"]*(?:\\"[^"]*)*>"', lambda m: '"' + hashlib.sha256(
                m.group(0).encode() + os.urandom(16)).hexdigest() + '"', text)
            target = os.path.join(workdir, f"{secret}.toml")
            open(target, "w", encoding="utf-8").write(filled)
            return target
    return None


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
            config = env.get("VTENRICH_CONFIG")
            if config:
                spec = doc["spec"]["template"]["spec"]
                stand_in = secret_config(spec, container, config, WORKDIR)
                if stand_in:
                    env["VTENRICH_CONFIG"] = stand_in
                    name += f" (with {os.path.basename(stand_in)} from its example)"
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


WORKDIR = tempfile.mkdtemp()
ok = check("config/vtenrich.example.toml", {}, ["--config", "config/vtenrich.example.toml"])
for path in RENDERED:
    for name, env in kubernetes(path):
        ok &= check(name, env)
for files in (["compose.yaml"], ["compose.redis.yaml"], ["compose.yaml", "compose.vt-key.yaml"]):
    for name, env in compose(files):
        ok &= check(name, env)
sys.exit(0 if ok else 1)
