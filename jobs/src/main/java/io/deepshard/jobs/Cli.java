package io.deepshard.jobs;

import io.deepshard.core.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code deepshard <job> ...}: the launcher's entry point. Exit codes: 0 done, 1 the job failed, 2 bad usage or config (including
 * checkpoints that do not fit the config).
 */
@Command(name = "deepshard", mixinStandardHelpOptions = true, version = "deepshard 0.1.0",
        subcommands = {TrainJob.class, EvaluateJob.class, PredictJob.class, TuneJob.class, TransferJob.class, VisualizeJob.class,
                ExportJob.class, SummaryJob.class, FetchDataJob.class, GenerateDataJob.class, PrepareJob.class, PipelineBenchJob.class,
                RoundsBenchJob.class, NativeBenchJob.class},
        description = "Distributed deep-learning training of image models on Apache Spark.")
public final class Cli implements Runnable {
    public static void main(String[] args) { exit(run(new Cli(), args)); }

    /**
     * Ends a job's {@code main} with its exit code. Inside a YARN ApplicationMaster (spark-submit --master yarn
     * --deploy-mode cluster, where the driver is the AM's user class) success must return from {@code main}: Spark
     * reports any {@code System.exit} there, 0 included, as a failure ("Shutdown hook called before final status was
     * reported"). Failures exit with their code everywhere, which YARN reports as FAILED.
     */
    static void exit(int code) {
        boolean yarnClusterDriver = "yarn".equals(System.getProperty("spark.master"))
                && "cluster".equals(System.getProperty("spark.submit.deployMode")) && System.getProperty("spark.yarn.app.id") != null;
        if (code != 0 || !yarnClusterDriver) System.exit(code);
    }

    @Override public void run() { new CommandLine(this).usage(System.out); }

    static int run(Object command, String[] args) {
        CommandLine cl = new CommandLine(command);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof ConfigException || e instanceof io.deepshard.core.train.CheckpointException) {
                System.err.println("error: " + e.getMessage());
                return 2;
            }
            System.err.println("error: " + Errors.userMessage(e));
            if (Boolean.getBoolean("deepshard.debug") || System.getenv("DEEPSHARD_DEBUG") != null) e.printStackTrace();
            else System.err.println("(set DEEPSHARD_DEBUG=1 for the stack trace)");
            return 1;
        });
        return cl.execute(args);
    }
}
