package io.jdm.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code jdmsetup daemon --background}: starts {@code jdmsetup daemon --notify-ready} as a new
 * process on the same class path and returns once it reports that it serves (its first line on
 * stdout), so a script can use the daemon on the next line without polling. If the child fails
 * first (a daemon already runs, a socket cannot be made), its messages are passed on and the exit
 * status is 1.
 */
final class Background {
  private Background() {}

  /**
   * @param daemonArgs the daemon's options, passed on
   */
  static int start(RuntimeDir dir, List<String> daemonArgs, PrintWriter out, PrintWriter err)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Jdmsetup.class.getName());
    cmd.add("daemon");
    cmd.add("--runtime-dir");
    cmd.add(dir.toString());
    cmd.add("--notify-ready");
    cmd.addAll(daemonArgs);
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .start();
    StringBuilder said = new StringBuilder();
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.startsWith("ready ")) {
          out.println(
              "jdmsetup: daemon "
                  + line.substring(6)
                  + " serving on "
                  + dir
                  + " (NBD: "
                  + dir.nbdSocket()
                  + ")");
          return 0;
        }
        said.append(line).append('\n');
      }
    }
    p.waitFor();
    err.print(said);
    if (said.length() == 0) {
      err.println("jdmsetup: the daemon exited with status " + p.exitValue());
    }
    return 1;
  }
}
