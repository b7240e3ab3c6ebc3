#!/usr/bin/env python3
"""Builds policy/aliases/catalog.json, the Azure Policy aliases Attest ships,
from a dump of `Get-AzPolicyAlias` (one Markdown table per resource type,
"| `default path` | `alias` |"), for the resource types Attest collects or
that built-ins over them read.

    scripts/alias-catalog.py DUMP_CHECKOUT COMMIT DATE > policy/aliases/catalog.json

DUMP_CHECKOUT is a checkout of github.com/maciejporebski/azure-policy-aliases.
"""
import json, pathlib, re, sys

TYPES = [
    "Microsoft.CognitiveServices/accounts",
    "Microsoft.CognitiveServices/accounts/deployments",
    "Microsoft.CognitiveServices/accounts/raiPolicies",
    "Microsoft.CognitiveServices/accounts/raiBlocklists",
    "Microsoft.CognitiveServices/accounts/privateEndpointConnections",
    "Microsoft.CognitiveServices/accounts/commitmentplans",
    "Microsoft.CognitiveServices/accounts/projects",
    "Microsoft.CognitiveServices/accounts/connections",
    "microsoft.insights/diagnosticSettings",
    "microsoft.insights/metricalerts",
    "microsoft.insights/activityLogAlerts",
    "microsoft.insights/scheduledqueryrules",
    "Microsoft.Authorization/roleAssignments",
    "Microsoft.Authorization/roleDefinitions",
    "Microsoft.Authorization/denyAssignments",
    "Microsoft.Authorization/roleAssignmentScheduleInstances",
    "Microsoft.Authorization/roleEligibilityScheduleRequests",
    "Microsoft.Network/privateEndpoints",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    "Microsoft.Network/privateDnsZones",
    "Microsoft.Search/searchServices",
    "Microsoft.Consumption/Budgets",
    "Microsoft.OperationalInsights/workspaces",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.KeyVault/vaults",
]

ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \|$")


def main():
    root, commit, date = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    aliases, types = {}, []
    for t in TYPES:
        ns, rest = t.split("/", 1)
        path = root / "aliases" / ns / (rest.replace("/", "-") + ".md")
        if not path.exists():
            sys.exit(f"{t}: {path} is missing from the dump")
        types.append(t.lower())
        for line in path.read_text().splitlines():
            m = ROW.match(line.strip())
            if m and m.group(1) != "Default Path":
                aliases[m.group(2).lower()] = m.group(1)
    out = {
        "source": {
            "tool": "Get-AzPolicyAlias (Az PowerShell), each alias's default path",
            "repository": "https://github.com/maciejporebski/azure-policy-aliases",
            "commit": commit,
            "date": date,
        },
        "types": types,
        "aliases": dict(sorted(aliases.items())),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


main()
