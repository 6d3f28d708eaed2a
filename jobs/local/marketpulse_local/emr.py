"""EMR steps on this machine: a step as production submits it
(`deploy/emr/steps/*.json`, command-runner.jar) run as a local process, so
the tests execute the files EMR runs instead of only parsing them.

- `spark-submit …` runs PySpark's own spark-submit on a local master, in
  client mode: a local master refuses `--deploy-mode cluster`. The s3://
  files it names (`--py-files`, `--jars`, `--files`, the application) are
  fetched first, as spark-submit fetches them through EMRFS on a node.
- `python3 …` runs this interpreter, where the node's Python has the jobs
  wheel a bootstrap action installed.
- SparkPi (`--class org.apache.spark.examples.SparkPi`) needs the
  spark-examples jar, which the pyspark wheel lacks. Where the jar is
  missing, the runner runs PySpark's own port of it
  (`pyspark/examples/src/main/python/pi.py`, same argument, same answer
  line) and says so.

Paths that exist only on a node (where a bootstrap action installed the
producer, say) map to local ones through `LocalNode.paths`.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SPARK_PI = "org.apache.spark.examples.SparkPi"
# spark-submit's options that take a value, and those among them that name files.
VALUED = {
    "--master", "--deploy-mode", "--class", "--name", "--jars", "--packages", "--py-files", "--files",
    "--archives", "--conf", "--properties-file", "--driver-memory", "--driver-java-options",
    "--driver-library-path", "--driver-class-path", "--executor-memory", "--executor-cores",
    "--num-executors", "--driver-cores", "--queue", "--total-executor-cores",
}  # fmt: skip
FILE_LISTS = {"--jars", "--py-files", "--files"}


class StepError(Exception):
    """A step this runner cannot run locally, in one line."""


@dataclass
class LocalNode:
    """Where and how steps run: `s3` (a boto3 client under the node's role)
    fetches s3:// files into `workdir`; `env` is the process environment;
    `confs` and `jars` are added for the local Spark (s3a, driver host…)."""

    workdir: Path
    env: dict[str, str]
    s3: object | None = None
    master: str = "local[2]"
    confs: list[str] = field(default_factory=list)
    jars: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def local(self, uri: str) -> str:
        """A file the step names, as a path on this machine."""
        if uri in self.paths:
            return self.paths[uri]
        if not uri.startswith("s3://"):
            return uri
        if self.s3 is None:
            raise StepError(f"the step names {uri}, and this node has no S3 client to fetch it")
        bucket, _, key = uri[len("s3://") :].partition("/")
        target = self.workdir / "fetched" / bucket / key
        target.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(bucket, key, str(target))
        return str(target)


def spark_submit() -> Path:
    """PySpark's spark-submit."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-submit"


def examples_jar() -> Path | None:
    import pyspark

    return next(iter(sorted((Path(pyspark.__file__).parent / "examples" / "jars").glob("spark-examples*.jar"))), None)


def command(step: dict, node: LocalNode) -> list[str]:
    """The local command for `step`; notes what differs from a node in `node.notes`."""
    jar_step = step.get("HadoopJarStep", {})
    if jar_step.get("Jar") != "command-runner.jar":
        raise StepError(f"step '{step.get('Name')}': only command-runner.jar steps run locally, not {jar_step.get('Jar')}")
    program, *args = jar_step.get("Args") or [""]
    if program == "spark-submit":
        return _spark_submit(step.get("Name", ""), args, node)
    if program in ("python3", "python"):
        return [sys.executable, *[node.paths.get(a, a) for a in args]]
    raise StepError(f"step '{step.get('Name')}': command-runner program '{program}' has no local runner")


def _spark_submit(name: str, args: list[str], node: LocalNode) -> list[str]:
    options: list[tuple[str, str]] = []
    i = 0
    while i < len(args) and args[i].startswith("--"):
        if args[i] not in VALUED or i + 1 == len(args):
            raise StepError(f"step '{name}': spark-submit option {args[i]} is not one the runner knows")
        options.append((args[i], args[i + 1]))
        i += 2
    if i == len(args):
        raise StepError(f"step '{name}': spark-submit names no application")
    app, app_args = args[i], args[i + 1 :]
    out = [str(spark_submit()), "--master", node.master, "--deploy-mode", "client"]
    main_class = dict(options).get("--class")
    for key, value in options:
        if key == "--deploy-mode":
            if value != "client":
                node.notes.append(f"deploy mode {value} runs in client mode: a local master refuses cluster mode")
        elif key == "--master":
            node.notes.append(f"master {value} runs on {node.master}")
        elif key in FILE_LISTS:
            out += [key, ",".join(node.local(v) for v in value.split(","))]
        elif key != "--class":
            out += [key, value]
    for conf in node.confs:
        out += ["--conf", conf]
    if node.jars:
        out += ["--jars", ",".join(node.jars)]
    if main_class == SPARK_PI and not Path(node.paths.get(app, app)).is_file():
        jar = examples_jar()
        if jar is None:
            import pyspark

            node.notes.append(f"{app} is not on this machine and pyspark has no spark-examples jar: PySpark's pi.py instead")
            return [*out, str(Path(pyspark.__file__).parent / "examples" / "src" / "main" / "python" / "pi.py"), *app_args]
        return [*out, "--class", main_class, str(jar), *app_args]
    if main_class:
        out += ["--class", main_class]
    return [*out, node.local(app), *[node.paths.get(a, a) for a in app_args]]


def run(step: dict, node: LocalNode, timeout: float = 900) -> subprocess.CompletedProcess:
    """Runs `step` as EMR would on `node`; its exit code is the step's
    COMPLETED (0) or FAILED."""
    node.workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        command(step, node), env=node.env, cwd=node.workdir, capture_output=True, text=True, check=False, timeout=timeout
    )
