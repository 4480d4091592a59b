"""Checks what schema validation cannot see in rendered kustomizations (used by check-deploy).

- ServiceMonitor (a Prometheus Operator CRD, unknown to kubernetes-validate): the fields used
  here, with their types, and that it selects a rendered Service by a named port.
- The vtenrich Deployment: the grace period outlasts preStop + drain + request timeout, the
  key file and the data directory sit on mounted volumes (the root filesystem is read-only),
  probes name a declared port, and VTENRICH_EXPECTED_REPLICAS equals the replica count.

Usage: deploy_invariants.py RENDERED.yaml...
"""

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

    expected = env.get("VTENRICH_EXPECTED_REPLICAS")
    replicas = deployment["spec"].get("replicas", 1)
    if expected is not None and int(expected) != replicas:
        fail(f"{name}: VTENRICH_EXPECTED_REPLICAS={expected} but replicas={replicas}")
    if expected is None and env.get("VTENRICH_REDIS_URL") is None and replicas != 1:
        fail(f"{name}: {replicas} replicas without Redis would each spend the key's full quota")


def main(paths):
    failures = []
    for path in paths:
        def fail(message, path=path):
            failures.append(f"{path}: {message}")

        with open(path, encoding="utf-8") as file:
            objects = [o for o in yaml.safe_load_all(file) if o]
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
    for failure in failures:
        print(f"ERROR {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
