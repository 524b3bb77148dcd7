/**
 * {@code jdmsetup}, dmsetup for jdm.
 *
 * <p>{@code jdmsetup daemon} ({@link io.jdm.cli.Daemon}) holds a {@link io.jdm.core.DeviceMapper}
 * with every target type on the class path, listens on a control socket and exports every mapped
 * device over NBD under its name. Its state folder ({@link io.jdm.cli.RuntimeDir}) is {@code
 * --runtime-dir}, {@code $JDM_RUNTIME_DIR}, {@code $XDG_RUNTIME_DIR/jdm} or {@code
 * <tmp>/jdm-<user>}, and holds {@code control}, {@code nbd.sock}, {@code jdmsetup.pid} and {@code
 * daemon.log}.
 *
 * <p>Every other command ({@link io.jdm.cli.Jdmsetup}) is a client of that socket with dmsetup's
 * name, arguments, output and exit status. The control protocol is line-based text, one request
 * line ({@code verb key=value...}, values percent-encoded) and one response ({@code OK} or {@code
 * ERR ioctl errno reason}, body lines, a lone {@code .}); {@code dm-cli/PROTOCOL.md} specifies it.
 */
package io.jdm.cli;
