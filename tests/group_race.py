"""One of several processes racing to find or create one shard group's MLflow parent run
(tests/test_team_server.py). Each waits for a common start time, finds or creates the parent,
logs a shard run under it as the logger does, reconciles as a shard's end does, and prints
what it chose as JSON.

    python tests/group_race.py URI EXPERIMENT_ID GROUP INDEX COUNT START_AT
"""

from __future__ import annotations

import json
import sys
import time

from mlflow import MlflowClient

from evalkit.results.schema import RunManifest, ShardInfo, SuiteInfo
from evalkit.trackers.mlflow.groups import end_group, find_or_create


def main() -> None:
    uri, experiment_id, group, index, count, start_at = sys.argv[1:7]
    client = MlflowClient(uri)
    client.search_experiments(max_results=1)  # connected (and authenticated) before the start
    manifest = RunManifest(
        run_id=f"race-{index}",
        suite=SuiteInfo(name="team-race"),
        shard=ShardInfo(index=int(index), count=int(count)),
        group=group,
    )
    time.sleep(max(0.0, float(start_at) - time.time()))
    parent = find_or_create(client, experiment_id, manifest)
    tags = {
        "mlflow.parentRunId": parent.info.run_id,
        "evalkit.group": group,
        "evalkit.shard": f"{index}/{count}",
        "evalkit.run_id": manifest.run_id,
    }
    shard = client.create_run(experiment_id, tags=tags, run_name=f"shard {index}/{count}")
    end_group(client, experiment_id, group, None)
    print(json.dumps({"parent": parent.info.run_id, "shard": shard.info.run_id}))


if __name__ == "__main__":
    main()
