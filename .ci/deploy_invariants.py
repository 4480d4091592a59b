"""Checks what schema validation cannot see in rendered kustomizations (used by check-deploy).

Every rendering:
- ServiceMonitor (a Prometheus Operator CRD, unknown to kubernetes-validate): the fields used
  here, with their types, and that it selects a rendered Service by a named port.
- The vtenrich Deployment: the grace period outlasts preStop + drain + request timeout, the
  key file, the TOML file and the data directory sit on mounted volumes (the root filesystem
  is read-only), probes name a declared port, no multi-replica Deployment runs without Redis,
  and with Redis VTENRICH_EXPECTED_REPLICAS >= replicas + the rollout's maxSurge (the most
  pods that run at once: each spends 1/VTENRICH_EXPECTED_REPLICAS while Redis is down).

Renderings of an overlay (`overlays/`: applied to a cluster as they are), in addition:
- no Secret or ConfigMap carries a placeholder or a documented example value (applying it
  would overwrite the real key or admit a published caller key);
- every namespaced object has a namespace;
- a NetworkPolicy selects the vtenrich pods and admits only named peers, and when Redis is
  rendered, a NetworkPolicy selects it and admits only the vtenrich pods.

Usage: deploy_invariants.py [--overlay] RENDERED.yaml... (--overlay applies the overlay rules
to every file; without it, files whose name contains "overlays_" get them).
       deploy_invariants.py --self-test RENDERED-OVERLAY.yaml: breaks a copy of a good overlay
rendering once per rule and fails unless each break is reported.
"""

import base64
import copy
import math
import re
import sys

import jsonschema
import yaml

DURATION = r"^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": LABELS,
                "annotations": LABELS,
            },
        },
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": LABELS},
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                            "honorLabels": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}


def seconds(text):
    """A humantime-style duration (`500ms`, `5s`, `1m`, `1h`) in seconds."""
    match = re.fullmatch(r"\s*([0-9]+)\s*(ms|s|m|h)\s*", str(text))
    if not match:
        raise ValueError(f"cannot read the duration {text!r}")
    return int(match[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match[2]]


def under(path, mounts):
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


def check_service_monitor(monitor, services, fail):
    try:
        jsonschema.validate(monitor, SERVICE_MONITOR)
    except jsonschema.ValidationError as err:
        fail(f"ServiceMonitor {monitor['metadata'].get('name')}: {err.message} at {list(err.path)}")
        return
    wanted = monitor["spec"]["selector"].get("matchLabels", {})
    chosen = [s for s in services if wanted.items() <= s["metadata"].get("labels", {}).items()]
    if not chosen:
        fail(f"ServiceMonitor {monitor['metadata']['name']} selects no Service")
    for endpoint in monitor["spec"]["endpoints"]:
        for service in chosen:
            names = {p.get("name") for p in service["spec"].get("ports", [])}
            if endpoint["port"] not in names:
                fail(f"ServiceMonitor port {endpoint['port']!r} is not a port of {service['metadata']['name']}")


def check_vtenrich(deployment, config_maps, fail):
    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "vtenrich")
    env = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef", {}).get("name")
        if ref not in config_maps:
            fail(f"{name}: envFrom names the missing ConfigMap {ref}")
            continue
        env.update(config_maps[ref].get("data", {}))
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})

    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    needed = pre_stop + seconds(env.get("VTENRICH_DRAIN_DELAY", "5s")) + seconds(env.get("VTENRICH_REQUEST_TIMEOUT", "60s"))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace <= needed:
        fail(f"{name}: terminationGracePeriodSeconds {grace} must exceed preStop + drain + request timeout ({needed:g}s)")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: volumes.get(m["name"], {}) for m in container.get("volumeMounts", [])}
    key_file = env.get("VTENRICH_VT_API_KEY_FILE")
    if key_file and not under(key_file, [p for p, v in mounts.items() if "secret" in v]):
        fail(f"{name}: VTENRICH_VT_API_KEY_FILE={key_file} is not on a mounted Secret")
    data_dir = env.get("VTENRICH_DATA_DIR", "data")
    read_only = container.get("securityContext", {}).get("readOnlyRootFilesystem", False)
    if read_only and data_dir.lower() != "none" and not under(data_dir, [p for p, v in mounts.items() if "secret" not in v]):
        fail(f"{name}: VTENRICH_DATA_DIR={data_dir} is not on a writable volume, and the root filesystem is read-only")

    ports = {p.get("name") for p in container.get("ports", [])} | {p.get("containerPort") for p in container.get("ports", [])}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        port = container.get(probe, {}).get("httpGet", {}).get("port")
        if port is not None and port not in ports:
            fail(f"{name}: {probe} port {port!r} is not a declared container port")

    config_file = env.get("VTENRICH_CONFIG")
    if config_file and not under(config_file, list(mounts)):
        fail(f"{name}: VTENRICH_CONFIG={config_file} is not on a mounted volume")

    replicas = deployment["spec"].get("replicas", 1)
    if env.get("VTENRICH_REDIS_URL") is None:
        if replicas != 1:
            fail(f"{name}: {replicas} replicas without Redis would each spend the key's full quota")
        return
    expected = int(env.get("VTENRICH_EXPECTED_REPLICAS", "1"))
    most = replicas + max_surge(deployment)
    if expected < most:
        fail(
            f"{name}: VTENRICH_EXPECTED_REPLICAS={expected} but up to {most} pods run at once "
            f"(replicas {replicas} + maxSurge); while Redis is down they would spend "
            f"{most}/{expected} of the key's limits"
        )


def max_surge(deployment):
    """Pods a rollout may add above `replicas` (Kubernetes' defaults: RollingUpdate, 25%)."""
    strategy = deployment["spec"].get("strategy", {})
    if strategy.get("type", "RollingUpdate") == "Recreate":
        return 0
    surge = strategy.get("rollingUpdate", {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        # Kubernetes rounds a percentage of surge up.
        return math.ceil(deployment["spec"].get("replicas", 1) * int(surge[:-1]) / 100)
    return int(surge)


# Values that only ever stand in for a real one: the base's key placeholder and its kin, any
# <...> template, and the SHA-256 of the documented caller key "example-caller-key-change-me".
PLACEHOLDER = re.compile(
    r"replace[-_ ]with|change[-_ ]?me|placeholder|<[^>]*>|^example|your[-_ ]|"
    r"820135fa60bf5958b325e4806a818021ffce18a596e79698d95f40c359f62ec5",
    re.IGNORECASE,
)
# Kinds without a namespace among those rendered here.
CLUSTER_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                 "PriorityClass", "StorageClass", "PersistentVolume"}


def values_of(obj):
    """The data of a Secret (decoded) or ConfigMap, as (key, text) pairs."""
    for key, value in obj.get("stringData", {}).items():
        yield key, str(value)
    for key, value in obj.get("data", {}).items():
        if obj["kind"] == "Secret":
            try:
                value = base64.b64decode(value).decode("utf-8", "replace")
            except ValueError:
                pass
        yield key, str(value)


def selects(selector, labels):
    """Whether a label selector (matchLabels only, as used here) matches these labels."""
    wanted = (selector or {}).get("matchLabels", {})
    return bool(wanted) and wanted.items() <= labels.items()


def check_overlay(by_kind, fail):
    for kind in ("Secret", "ConfigMap"):
        for obj in by_kind.get(kind, []):
            for key, text in values_of(obj):
                if PLACEHOLDER.search(text):
                    fail(f"{kind} {obj['metadata']['name']} key {key} holds a placeholder or example "
                         "value; applying it would overwrite the real one (create it out of band)")

    for kind, objects in by_kind.items():
        for obj in objects:
            if kind not in CLUSTER_KINDS and not obj["metadata"].get("namespace"):
                fail(f"{kind} {obj['metadata']['name']} has no namespace")

    policies = by_kind.get("NetworkPolicy", [])
    workloads = by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])
    vtenrich = [w for w in workloads if w["metadata"]["name"] == "vtenrich"]
    vtenrich_labels = [w["spec"]["template"]["metadata"].get("labels", {}) for w in vtenrich]
    for workload in workloads:
        name = workload["metadata"]["name"]
        labels = workload["spec"]["template"]["metadata"].get("labels", {})
        is_redis = any(re.search(r"(^|/)(redis|valkey)[:@]", c.get("image", ""))
                       for c in workload["spec"]["template"]["spec"]["containers"])
        if name != "vtenrich" and not is_redis:
            continue
        guarding = [p for p in policies if selects(p["spec"].get("podSelector"), labels)
                    and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])]
        if not guarding:
            fail(f"no NetworkPolicy guards the ingress of {name}")
        for policy in guarding:
            for rule in policy["spec"].get("ingress", []):
                peers = rule.get("from")
                if not peers:
                    fail(f"NetworkPolicy {policy['metadata']['name']} admits every peer to {name}")
                    continue
                if not is_redis:
                    continue
                # Redis has no password: only the vtenrich pods of its own namespace.
                for peer in peers:
                    if set(peer) != {"podSelector"} or not any(
                            selects(peer["podSelector"], v) for v in vtenrich_labels):
                        fail(f"NetworkPolicy {policy['metadata']['name']} admits {peer} to {name}; "
                             "only the vtenrich pods may reach Redis")


def check(objects, overlay, fail):
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    config_maps = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    for monitor in by_kind.get("ServiceMonitor", []):
        check_service_monitor(monitor, by_kind.get("Service", []), fail)
    vtenrich = [d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "vtenrich"]
    if not vtenrich:
        fail("no vtenrich Deployment rendered")
    for deployment in vtenrich:
        check_vtenrich(deployment, config_maps, fail)
    if overlay:
        check_overlay(by_kind, fail)


def load(path):
    with open(path, encoding="utf-8") as file:
        return [o for o in yaml.safe_load_all(file) if o]


def find(objects, kind, name=None):
    return next(o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"]))


def breakages():
    """One way to break a good overlay rendering per overlay rule, each the defect it guards."""
    def placeholder_secret(objs):
        objs.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": "vtenrich-virustotal", "namespace": "vtenrich"},
                     "stringData": {"api-key": "replace-with-your-virustotal-api-key"}})

    def example_caller_hash(objs):
        data = find(objs, "ConfigMap")["data"]
        data["config.toml"] = ('[[callers]]\nid = "x"\nkey_sha256 = '
                               '["820135fa60bf5958b325e4806a818021ffce18a596e79698d95f40c359f62ec5"]\n')

    def no_namespace(objs):
        find(objs, "Deployment", "vtenrich")["metadata"].pop("namespace")

    def no_vtenrich_policy(objs):
        objs.remove(find(objs, "NetworkPolicy", "vtenrich"))

    def no_redis_policy(objs):
        objs.remove(find(objs, "NetworkPolicy", "vtenrich-redis"))

    def redis_open_to_a_namespace(objs):
        rule = find(objs, "NetworkPolicy", "vtenrich-redis")["spec"]["ingress"][0]
        rule["from"].append({"namespaceSelector": {}})

    def surge_above_expected(objs):
        find(objs, "Deployment", "vtenrich")["spec"]["strategy"] = {
            "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}

    def default_surge(objs):
        find(objs, "Deployment", "vtenrich")["spec"].pop("strategy")

    return [placeholder_secret, example_caller_hash, no_namespace, no_vtenrich_policy,
            no_redis_policy, redis_open_to_a_namespace, surge_above_expected, default_surge]


def self_test(path):
    good = load(path)
    failures = []
    check(good, True, failures.append)
    if failures:
        print(f"self-test: {path} is not a good overlay rendering: {failures}", file=sys.stderr)
        return 1
    missed = []
    for breakage in breakages():
        broken = copy.deepcopy(good)
        breakage(broken)
        caught = []
        check(broken, True, caught.append)
        print(f"self-test: {breakage.__name__}: {'caught' if caught else 'MISSED'}")
        if not caught:
            missed.append(breakage.__name__)
    if missed:
        print(f"self-test: the invariants missed {missed}", file=sys.stderr)
        return 1
    return 0


def main(args):
    if args[:1] == ["--self-test"]:
        return self_test(args[1])
    every_overlay = args[:1] == ["--overlay"]
    paths = args[1:] if every_overlay else args
    failures = []
    for path in paths:
        def fail(message, path=path):
            failures.append(f"{path}: {message}")

        check(load(path), every_overlay or "overlays_" in path, fail)
    for failure in failures:
        print(f"ERROR {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
