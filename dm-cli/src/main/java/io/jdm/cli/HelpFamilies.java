package io.jdm.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * {@code jdmsetup --help}'s command list, by family: dmsetup's verbs, cryptsetup's, veritysetup's,
 * the daemon's and NBD's, and help. Every visible command belongs to exactly one family ({@code
 * HelpFamiliesTest} checks it, so a new command cannot be left out).
 */
final class HelpFamilies {
  private HelpFamilies() {}

  /** Family heading to its commands, in the order they are listed. */
  static final Map<String, List<String>> FAMILIES = new LinkedHashMap<>();

  static {
    FAMILIES.put(
        "dmsetup verbs (dmsetup's arguments, output and exit codes):",
        List.of(
            "create",
            "load",
            "suspend",
            "resume",
            "remove",
            "remove_all",
            "rename",
            "clear",
            "ls",
            "table",
            "status",
            "info",
            "deps",
            "message",
            "targets",
            "version",
            "wait"));
    FAMILIES.put(
        "cryptsetup verbs (also `jdmsetup crypt VERB`; cryptsetup's status:"
            + " `jdmsetup crypt status`):",
        List.of(
            "luksFormat",
            "open",
            "close",
            "luksDump",
            "luksAddKey",
            "luksRemoveKey",
            "luksChangeKey",
            "luksKillSlot",
            "isLuks",
            "luksUUID",
            "luksHeaderBackup",
            "luksHeaderRestore",
            "crypt"));
    FAMILIES.put(
        "veritysetup verbs (`jdmsetup verity VERB`: format, verify, open, close, dump):",
        List.of("verity"));
    FAMILIES.put("daemon and NBD verbs:", List.of("daemon"));
    FAMILIES.put("other:", List.of("help"));
  }

  /** Replaces the root command's flat command list with the families. */
  static void install(CommandLine root) {
    root.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_COMMAND_LIST, HelpFamilies::render);
    root.getHelpSectionMap()
        .put(
            UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING,
            help -> String.format(java.util.Locale.ROOT, "Commands:%n"));
  }

  private static String render(Help help) {
    // keyed by the display name ("load, reload"): re-key by the command's own name
    Map<String, Map.Entry<String, Help>> all = new LinkedHashMap<>();
    help.subcommands().forEach((shown, h) -> all.put(h.commandSpec().name(), Map.entry(shown, h)));
    StringBuilder sb = new StringBuilder();
    List<String> listed = new ArrayList<>();
    for (Map.Entry<String, List<String>> f : FAMILIES.entrySet()) {
      Map<String, Help> family = new LinkedHashMap<>();
      for (String name : f.getValue()) {
        Map.Entry<String, Help> h = all.get(name);
        if (h != null) {
          family.put(h.getKey(), h.getValue());
          listed.add(name);
        }
      }
      if (family.isEmpty()) {
        continue;
      }
      sb.append(String.format(java.util.Locale.ROOT, "%n  %s%n", f.getKey()));
      sb.append(help.commandList(family));
    }
    Map<String, Help> rest = new LinkedHashMap<>();
    all.forEach(
        (n, h) -> {
          if (!listed.contains(n) && !h.getValue().commandSpec().usageMessage().hidden()) {
            rest.put(h.getKey(), h.getValue());
          }
        });
    if (!rest.isEmpty()) {
      sb.append(String.format(java.util.Locale.ROOT, "%n  more:%n"));
      sb.append(help.commandList(rest));
    }
    return sb.toString();
  }
}
