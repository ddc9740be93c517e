"""Deepshard on Airflow: train -> evaluate -> publish the model only if it beats the published one.

Every task is an idempotent Spark job, so Airflow's retries are safe:
- train runs with a fixed run directory per DAG run and ``--resume``: a retry continues from the newest checkpoint,
  a retry after success does nothing (the run already holds a model);
- evaluate writes into the run directory with ``--overwrite``;
- publish exports the serving bundle with ``--overwrite`` and then records its evaluation next to it.

Settings come from Airflow Variables (deployment) and DAG params (per run, overridable on trigger):
  Variables: deepshard_jar (the jobs jar), deepshard_jars (comma-separated DL4J/ND4J runtime jars, may be empty),
             deepshard_runs (base URI of run directories), deepshard_published (folder of the published model)
  Params:    config (the training config, a path the driver reads), test_data (labelled data to evaluate on)
The comparison reads evaluation.json files, so deepshard_runs and deepshard_published must be paths this worker can
read: a shared local path, or hdfs:// read through the `hdfs` command line.
"""
import json
import os
import subprocess
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models.param import Param
from airflow.operators.python import PythonOperator, ShortCircuitOperator
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

RUN_DIR = "{{ var.value.deepshard_runs }}/{{ dag.dag_id }}-{{ ds_nodash }}"
EVALUATION = RUN_DIR + "/evaluations/airflow"
PUBLISHED = "{{ var.value.deepshard_published }}"

# Executors: one task slot per core, one native thread per task (README "Launcher and native settings"), memory
# overhead for ND4J's off-heap arrays.
SPARK_CONF = {
    "spark.executor.cores": "2",
    "spark.executor.memory": "4g",
    "spark.executor.memoryOverhead": "3g",
    "spark.executorEnv.OMP_NUM_THREADS": "1",
    "spark.executorEnv.OPENBLAS_NUM_THREADS": "1",
    "spark.task.maxDirectResultSize": "16m",
}


def read_text(uri):
    """The text of a local or hdfs:// file, or None when it does not exist."""
    if uri.startswith("hdfs://"):
        done = subprocess.run(["hdfs", "dfs", "-cat", uri], capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else None
    path = uri[len("file:"):] if uri.startswith("file:") else uri
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read()


def beats_published(evaluation_uri, published_uri, metric="accuracy", **_):
    """Whether the new model's metric is higher than the published model's (always true when nothing is published)."""
    new_text = read_text(evaluation_uri + "/evaluation.json")
    if new_text is None:
        raise FileNotFoundError("no evaluation at " + evaluation_uri + "/evaluation.json")
    new = json.loads(new_text)[metric]
    old_text = read_text(published_uri + "/evaluation.json")
    if old_text is None:
        print("nothing published yet: publishing", metric, new)
        return True
    old = json.loads(old_text)[metric]
    print(metric, "new", new, "published", old)
    return new > old


def record_published(evaluation_uri, published_uri, run_dir, **_):
    """Writes the published model's evaluation (and where it came from) next to it, for the next comparison."""
    evaluation = json.loads(read_text(evaluation_uri + "/evaluation.json"))
    evaluation["run"] = run_dir
    text = json.dumps(evaluation, indent=2)
    target = published_uri + "/evaluation.json"
    if target.startswith("hdfs://"):
        subprocess.run(["hdfs", "dfs", "-put", "-f", "-", target], input=text, text=True, check=True)
    else:
        path = target[len("file:"):] if target.startswith("file:") else target
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)


def spark_job(task_id, java_class, args):
    return SparkSubmitOperator(
        task_id=task_id,
        application="{{ var.value.deepshard_jar }}",
        jars="{{ var.value.get('deepshard_jars', '') }}",
        java_class=java_class,
        application_args=args,
        conf=SPARK_CONF,
        conn_id="spark_default",
        name="deepshard-" + task_id,
        verbose=False,
    )


with DAG(
    dag_id="deepshard_train",
    description="Train a Deepshard model, evaluate it, publish it if it beats the published one",
    schedule="@weekly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5), "retry_exponential_backoff": True},
    params={
        "config": Param("conf/lenet5-fashion.yaml", type="string", description="training config (a path the driver reads)"),
        "test_data": Param("fashion-mnist:test", type="string", description="labelled data to evaluate on"),
    },
    tags=["deepshard"],
) as dag:
    train = spark_job("train", "io.deepshard.jobs.TrainJob",
                      ["{{ params.config }}", "--set", "output=" + RUN_DIR, "--resume"])
    evaluate = spark_job("evaluate", "io.deepshard.jobs.EvaluateJob",
                         ["--model", RUN_DIR, "--data", "{{ params.test_data }}", "--out", EVALUATION, "--overwrite"])
    better = ShortCircuitOperator(
        task_id="beats_published",
        python_callable=beats_published,
        op_kwargs={"evaluation_uri": EVALUATION, "published_uri": PUBLISHED},
    )
    publish = spark_job("publish", "io.deepshard.jobs.ExportJob",
                        ["--model", RUN_DIR, "--out", PUBLISHED + "/model.deepshard.zip", "--overwrite"])
    record = PythonOperator(
        task_id="record_published",
        python_callable=record_published,
        op_kwargs={"evaluation_uri": EVALUATION, "published_uri": PUBLISHED, "run_dir": RUN_DIR},
    )
    train >> evaluate >> better >> publish >> record
