package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --plugin-path} / {@code $JDM_PLUGIN_PATH}: target types in a user's jar, compiled and
 * packed here, loaded by the daemon; a user's {@code basic_target} wins over the tutorial's, with a
 * log line naming both; the built-ins cannot be replaced.
 */
class PluginPathTest {
  @TempDir static Path build;

  private static Path plugins;

  @TempDir Path tmp;

  private Daemon daemon;

  /** A type that accepts any arguments, logs its constructor and completes every bio. */
  private static String source(String cls, String type, String version) {
    return "package com.example;\n"
        + "import io.jdm.core.*;\n"
        + "public final class "
        + cls
        + " implements TargetType {\n"
        + "  public String name() { return \""
        + type
        + "\"; }\n"
        + "  public TargetVersion version() { return TargetVersion.of("
        + version
        + "); }\n"
        + "  public Target create(TargetContext ctx, long begin, long length, String[] args) {\n"
        + "    ctx.logger().log(System.Logger.Level.INFO, \""
        + cls
        + " ctr: {0} args\", args.length);\n"
        + "    return bio -> { bio.complete(BlockStatus.OK); return MapResult.SUBMITTED; };\n"
        + "  }\n"
        + "}\n";
  }

  @BeforeAll
  static void buildPluginJar() throws Exception {
    Path src = build.resolve("src/com/example");
    Files.createDirectories(src);
    Files.writeString(src.resolve("MyBasic.java"), source("MyBasic", "basic_target", "9, 0, 0"));
    Files.writeString(src.resolve("Hello.java"), source("Hello", "hello_target", "1, 2, 3"));
    Files.writeString(src.resolve("MyLinear.java"), source("MyLinear", "linear", "9, 9, 9"));
    Path classes = build.resolve("classes");
    String javac = Path.of(System.getProperty("java.home"), "bin", "javac").toString();
    Cli.Result r =
        Cli.exec(
            Map.of(),
            javac,
            "-d",
            classes.toString(),
            "-cp",
            System.getProperty("java.class.path"),
            src.resolve("MyBasic.java").toString(),
            src.resolve("Hello.java").toString(),
            src.resolve("MyLinear.java").toString());
    assertThat(r.exit()).as(r.out()).isZero();
    plugins = build.resolve("plugins");
    Files.createDirectories(plugins);
    try (OutputStream o = Files.newOutputStream(plugins.resolve("mine.jar"));
        JarOutputStream jar = new JarOutputStream(o);
        Stream<Path> files = Files.list(classes.resolve("com/example"))) {
      for (Path f : files.sorted().toList()) {
        jar.putNextEntry(new JarEntry("com/example/" + f.getFileName()));
        jar.write(Files.readAllBytes(f));
        jar.closeEntry();
      }
      jar.putNextEntry(new JarEntry("META-INF/services/io.jdm.core.TargetType"));
      jar.write(
          "com.example.MyBasic\ncom.example.Hello\ncom.example.MyLinear\n"
              .getBytes(StandardCharsets.UTF_8));
      jar.closeEntry();
    }
    Files.writeString(plugins.resolve("notes.txt"), "not a jar");
  }

  @AfterEach
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  @Test
  void aUsersTargetsLoadAndTheirBasicTargetWins() throws IOException {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(dir, Daemon.Options.builder().pluginFolder(plugins).build());
    Cli cli = new Cli(dir);
    String targets = cli.run("targets").ok().out();
    assertThat(targets)
        .contains(
            "basic_target     v9.0.0\n", "hello_target     v1.2.3\n", "linear           v1.4.0\n")
        .doesNotContain("basic_target     v1.0.0", "v9.9.9");
    // the tutorial's basic_target takes exactly two arguments; the user's takes any
    cli.run("create", "mine", "--table", "0 8 basic_target a b c").ok();
    cli.run("create", "hello", "--table", "0 8 hello_target").ok();
    String log = Files.readString(dir.logFile());
    String jar = plugins.resolve("mine.jar").toAbsolutePath().toString();
    assertThat(log)
        .contains(
            "INFO target type basic_target v9.0.0 loaded from " + jar + " (com.example.MyBasic)\n",
            "INFO target type basic_target from "
                + jar
                + " (com.example.MyBasic) replaces jdm's basic_target"
                + " (io.jdm.examples.BasicTarget)\n",
            "WARNING target type linear from "
                + jar
                + " (com.example.MyLinear) ignored: linear is built in and cannot be replaced\n",
            "INFO device-mapper: basic_target: dm-0: MyBasic ctr: 3 args\n",
            "INFO device-mapper: hello_target: dm-1: Hello ctr: 0 args\n");
  }

  @Test
  void withoutPluginsTheTutorialsBasicTargetServes() throws IOException {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    daemon = Daemon.start(dir);
    Cli cli = new Cli(dir);
    assertThat(cli.run("targets").ok().out())
        .contains("basic_target     v1.0.0\n")
        .doesNotContain("hello_target");
  }

  @Test
  void aMissingFolderStopsTheStart() {
    RuntimeDir dir = new RuntimeDir(tmp.resolve("run"));
    Path nope = tmp.resolve("nope");
    assertThatThrownBy(() -> Daemon.start(dir, Daemon.Options.builder().pluginFolder(nope).build()))
        .isInstanceOf(IOException.class)
        .hasMessage("plugin folder " + nope + ": no such folder");
    assertThat(dir.controlSocket()).doesNotExist();
  }

  @Test
  void foldersFromTheOptionThenTheEnvironment() {
    assertThat(Plugins.folders(List.of("/a:/b", "/c"), Map.of(Plugins.ENV, "/d::/e")))
        .containsExactly(Path.of("/a"), Path.of("/b"), Path.of("/c"), Path.of("/d"), Path.of("/e"));
    assertThat(Plugins.folders(null, Map.of())).isEmpty();
  }
}
