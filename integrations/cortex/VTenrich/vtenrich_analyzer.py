#!/usr/bin/env python3
"""Cortex analyzer: enriches an observable through vtenrich and reports it in Cortex's shape
(`full` is vtenrich's result object; `summary.taxonomies` under the namespace VTenrich).

Cortex runs it with the job directory as its argument (input/input.json -> output/output.json).
"""

import requests
from cortexutils.analyzer import Analyzer

NAMESPACE = "VTenrich"

# Cortex data types and the vtenrich observable type each becomes (a `hash` is a file's MD5,
# SHA-1 or SHA-256). A new vtenrich type is one entry here.
DATA_TYPES = {
    "ip": "ip",
    "domain": "domain",
    "fqdn": "domain",
    "url": "url",
    "hash": "file",
}

# Cortex taxonomy levels for vtenrich's verdicts.
LEVELS = {
    "malicious": "malicious",
    "suspicious": "suspicious",
    "harmless": "safe",
    "unknown": "info",
}


class VTenrichAnalyzer(Analyzer):
    def __init__(self):
        Analyzer.__init__(self)
        self.url = self.get_param("config.url", None, "vtenrich URL (config url) is missing").rstrip("/")
        self.key = self.get_param("config.key", None)
        self.max_wait_ms = int(self.get_param("config.max_wait_ms", 8000) or 8000)

    def run(self):
        kind = DATA_TYPES.get(self.data_type)
        if kind is None:
            self.error(f"vtenrich does not enrich {self.data_type} observables; it takes: {', '.join(DATA_TYPES)}")
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        body = {"observables": [{"type": kind, "value": self.get_data()}], "max_wait_ms": self.max_wait_ms}
        try:
            response = requests.post(
                f"{self.url}/v1/enrich",
                json=body,
                headers=headers,
                timeout=self.max_wait_ms / 1000 + 60,
            )
        except requests.RequestException as error:
            self.error(f"vtenrich is unreachable at {self.url}: {type(error).__name__}")
        if response.status_code != 200:
            self.error(f"vtenrich answered {response.status_code}: {message_of(response)}")
        result = response.json()["results"][0]
        status = result["status"]
        if status == "deferred":
            self.error(f"deferred: no VirusTotal quota slot yet; run the job again in {result.get('retry_after_secs')} s")
        if status in ("invalid", "error"):
            self.error(f"{status}: {(result.get('error') or {}).get('message')}")
        self.report(result)

    def summary(self, raw):
        reputation = raw.get("reputation") or {}
        if raw["status"] != "ok":
            # not_found, not_routable: nothing VirusTotal could judge.
            return {"taxonomies": [self.build_taxonomy("info", NAMESPACE, "Verdict", raw["status"])]}
        verdict = reputation.get("verdict", "unknown")
        level = LEVELS.get(verdict, "info")
        taxonomies = [self.build_taxonomy(level, NAMESPACE, "Verdict", verdict)]
        if reputation.get("malicious") is not None:
            engines = sum(reputation.get(k) or 0 for k in ("malicious", "suspicious", "harmless", "undetected", "timeout"))
            taxonomies.append(
                self.build_taxonomy(level, NAMESPACE, "Detections", f"{reputation['malicious']}/{engines}")
            )
        # What the engines call a file, when they agree on a name.
        threat = ((raw.get("file") or {}).get("popular_threat_classification") or {}).get("suggested_threat_label")
        if threat:
            taxonomies.append(self.build_taxonomy(level, NAMESPACE, "Threat", threat))
        return {"taxonomies": taxonomies}

    def artifacts(self, raw):
        artifacts = []
        network = raw.get("network") or {}
        if network.get("asn") is not None:
            artifacts.append(self.build_artifact("autonomous-system", str(network["asn"]), tags=["vtenrich:asn"]))
        country = ((raw.get("geo") or {}).get("country") or {}).get("iso_code")
        if country:
            artifacts.append(self.build_artifact("other", country, tags=["vtenrich:country"]))
        # A domain's last A and AAAA records.
        dns = (raw.get("domain") or {}).get("dns_records") or {}
        for ip in (dns.get("a") or []) + (dns.get("aaaa") or []):
            artifacts.append(self.build_artifact("ip", ip, tags=["vtenrich:resolved"]))
        # A file's other hashes and its most telling name.
        file = raw.get("file") or {}
        for digest in ("md5", "sha1", "sha256"):
            if file.get(digest) and file[digest] != raw["observable"]:
                artifacts.append(self.build_artifact("hash", file[digest], tags=[f"vtenrich:{digest}"]))
        if file.get("meaningful_name"):
            artifacts.append(self.build_artifact("filename", file["meaningful_name"], tags=["vtenrich:name"]))
        # Where VirusTotal's last fetch of a URL ended, when elsewhere.
        final_url = (raw.get("url") or {}).get("final_url")
        if final_url and final_url != raw["observable"]:
            artifacts.append(self.build_artifact("url", final_url, tags=["vtenrich:final-url"]))
        return artifacts


def message_of(response):
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.reason


if __name__ == "__main__":
    VTenrichAnalyzer().run()
