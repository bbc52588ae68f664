"""One scan over many machines: `pynmap --cluster ...` on Dask's distributed scheduler.

* `where`: the --cluster* options (addresses, TLS files, shard count), pure;
* `spec`: a shard's task (`ShardSpec`) and how the client cuts the scan;
* `worker`: `run_shard`, what a worker runs (through pynmap.api.scan_outputs);
* `driver`: the client (`run_cluster`, and the Session's `ClusterScan`);
* `dasklink`: the only module that imports Dask (typed wrappers);
* `tls`: who may join (the run's own TLS key for local:N, or the user's files);
* `workersetup`: the preload of the local workers (they leave Ctrl-C to the client).

Importing this package imports no Dask: a plain scan never does.
"""
