package io.deepshard.jobs;

import io.deepshard.core.config.ConfigLoader;
import io.deepshard.core.config.DeepshardConfig;
import io.deepshard.core.zoo.NetworkFactory;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Every example in conf/ validates and builds its network, and so does every trial of a search (the Quick start config is also run by the benchmarks). */
class ExampleConfigsTest {
    @TestFactory
    Stream<DynamicTest> everyExampleConfigIsValid() throws IOException {
        Path conf = Path.of("..", "conf").toAbsolutePath().normalize();
        List<Path> files;
        try (Stream<Path> s = Files.list(conf)) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertThat(files).isNotEmpty();
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> {
            DeepshardConfig c = ConfigLoader.load(f, List.of());
            assertThat(NetworkFactory.create(c.model(), c.data(), c.training()).numParams()).isPositive();
            // a search: every trial's config is valid too
            if (c.tune() != null) assertThat(TuneJob.trials(Files.readString(f), c, List.of(), "runs/t")).isNotEmpty();
        }));
    }
}
