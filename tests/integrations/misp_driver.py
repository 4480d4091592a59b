"""Drives the MISP side of tests/integrations/misp.rs with the real client libraries.

  misp_driver.py vtenrich URL TYPE VALUE           queries vtenrich's misp-modules endpoint
                                                   about a TYPE attribute (ip-src, domain,
                                                   url, md5...) in every request form and
                                                   loads each answer with PyMISP
  misp_driver.py misp-modules API TYPE VALUE KEY   runs misp-modules' own virustotal_public
                                                   module against the VirusTotal simulator at
                                                   API (its root URL)

Prints one JSON object: the object templates of each answer as PyMISP loaded them, and the
answer itself. Any answer PyMISP cannot load fails the run (exit 1) with the reason.
"""

import copy
import functools
import json
import sys
import uuid

import requests
from pymisp import MISPEvent, MISPObject


def load_into_pymisp(results):
    """Loads a misp_standard `results` into a MISPEvent and rebuilds each object strictly on
    its template, so an unknown relation, a wrong attribute type or a missing required
    attribute raises."""
    event = MISPEvent()
    # PyMISP consumes what it loads; the checks below read the answer as sent.
    event.load({"Event": {"info": "vtenrich integration test", **copy.deepcopy(results)}})
    for loaded, sent in zip(event.objects, results.get("Object", [])):
        strict = MISPObject(sent["name"], strict=True)
        definition = strict._definition["attributes"]
        for attribute in sent["Attribute"]:
            relation = attribute["object_relation"]
            expected = definition[relation]["misp-attribute"]
            if attribute["type"] != expected:
                raise AssertionError(f"{sent['name']}.{relation} is {attribute['type']}, the template says {expected}")
            strict.add_attribute(relation, value=attribute["value"], type=attribute["type"])
        strict.to_dict()  # runs the template's required / requiredOneOf checks
        assert loaded.name == sent["name"], (loaded.name, sent["name"])
    return [o.name for o in event.objects]


def vtenrich(url, kind, value):
    queries = {
        "attribute": {"module": "vtenrich", "attribute": {"type": kind, "value": value, "uuid": str(uuid.uuid4())}, "config": {}},
        "legacy": {"module": "vtenrich", kind: value},
    }
    out = {}
    for form, query in queries.items():
        answer = requests.post(f"{url}/query", json=query, timeout=10).json()
        if "results" not in answer:
            raise AssertionError(f"{form}: {answer}")
        out[form] = load_into_pymisp(answer["results"])
        out[f"{form}_answer"] = answer["results"]
    modules = requests.get(f"{url}/modules", timeout=10).json()
    out["modules"] = [m["name"] for m in modules]
    return out


def misp_modules(api, kind, value, key):
    import vt
    from misp_modules.modules.expansion import virustotal_public

    # Only where it connects changes: the module, its parser and vt-py run as shipped.
    virustotal_public.vt.Client = functools.partial(vt.Client, host=api)
    query = {
        "module": "virustotal_public",
        "attribute": {"type": kind, "value": value, "uuid": str(uuid.uuid4())},
        "config": {"apikey": key},
    }
    answer = virustotal_public.handler(json.dumps(query))
    if "results" not in answer:
        raise AssertionError(f"virustotal_public: {answer}")
    return {"attribute": load_into_pymisp(answer["results"]), "attribute_answer": answer["results"]}


def main():
    side, target, kind, value = sys.argv[1:5]
    out = vtenrich(target, kind, value) if side == "vtenrich" else misp_modules(target, kind, value, sys.argv[5])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
