package io.jdm.nbd;

import io.jdm.core.BlockStatus;

/**
 * The protocol's numbers, from {@code doc/proto.md} of NetworkBlockDevice/nbd (the section
 * "Values"), and the mapping between NBD error values and {@link BlockStatus}.
 */
final class Nbd {
  private Nbd() {}

  /** {@code NBDMAGIC}, the first eight bytes the server sends. */
  static final long INIT_PASSWD = 0x4e42444d41474943L;

  /** {@code IHAVEOPT}: the newstyle magic, and the magic of every option request. */
  static final long IHAVEOPT = 0x49484156454F5054L;

  /** Oldstyle's second magic ({@code cliserv_magic}). */
  static final long CLISERV_MAGIC = 0x00420281861253L;

  /** Magic of an option reply. */
  static final long REPLY_MAGIC = 0x3e889045565a9L;

  static final int REQUEST_MAGIC = 0x25609513;
  static final int SIMPLE_REPLY_MAGIC = 0x67446698;
  static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

  /** The IANA port for NBD. */
  static final int DEFAULT_PORT = 10809;

  // handshake flags (server)
  static final int FLAG_FIXED_NEWSTYLE = 1;
  static final int FLAG_NO_ZEROES = 1 << 1;

  // client flags
  static final int FLAG_C_FIXED_NEWSTYLE = 1;
  static final int FLAG_C_NO_ZEROES = 1 << 1;

  // transmission flags
  static final int FLAG_HAS_FLAGS = 1;
  static final int FLAG_READ_ONLY = 1 << 1;
  static final int FLAG_SEND_FLUSH = 1 << 2;
  static final int FLAG_SEND_FUA = 1 << 3;
  static final int FLAG_ROTATIONAL = 1 << 4;
  static final int FLAG_SEND_TRIM = 1 << 5;
  static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
  static final int FLAG_SEND_DF = 1 << 7;
  static final int FLAG_CAN_MULTI_CONN = 1 << 8;
  static final int FLAG_SEND_CACHE = 1 << 10;

  // options
  static final int OPT_EXPORT_NAME = 1;
  static final int OPT_ABORT = 2;
  static final int OPT_LIST = 3;
  static final int OPT_STARTTLS = 5;
  static final int OPT_INFO = 6;
  static final int OPT_GO = 7;
  static final int OPT_STRUCTURED_REPLY = 8;
  static final int OPT_LIST_META_CONTEXT = 9;
  static final int OPT_SET_META_CONTEXT = 10;

  // option replies
  static final int REP_ACK = 1;
  static final int REP_SERVER = 2;
  static final int REP_INFO = 3;
  static final int REP_META_CONTEXT = 4;
  static final int REP_FLAG_ERROR = 1 << 31;
  static final int REP_ERR_UNSUP = REP_FLAG_ERROR | 1;
  static final int REP_ERR_POLICY = REP_FLAG_ERROR | 2;
  static final int REP_ERR_INVALID = REP_FLAG_ERROR | 3;
  static final int REP_ERR_PLATFORM = REP_FLAG_ERROR | 4;
  static final int REP_ERR_TLS_REQD = REP_FLAG_ERROR | 5;
  static final int REP_ERR_UNKNOWN = REP_FLAG_ERROR | 6;
  static final int REP_ERR_SHUTDOWN = REP_FLAG_ERROR | 7;
  static final int REP_ERR_BLOCK_SIZE_REQD = REP_FLAG_ERROR | 8;
  static final int REP_ERR_TOO_BIG = REP_FLAG_ERROR | 9;

  // information types
  static final int INFO_EXPORT = 0;
  static final int INFO_NAME = 1;
  static final int INFO_DESCRIPTION = 2;
  static final int INFO_BLOCK_SIZE = 3;

  // commands
  static final int CMD_READ = 0;
  static final int CMD_WRITE = 1;
  static final int CMD_DISC = 2;
  static final int CMD_FLUSH = 3;
  static final int CMD_TRIM = 4;
  static final int CMD_CACHE = 5;
  static final int CMD_WRITE_ZEROES = 6;
  static final int CMD_BLOCK_STATUS = 7;

  // command flags
  static final int CMD_FLAG_FUA = 1;
  static final int CMD_FLAG_NO_HOLE = 1 << 1;
  static final int CMD_FLAG_DF = 1 << 2;
  static final int CMD_FLAG_REQ_ONE = 1 << 3;
  static final int CMD_FLAG_FAST_ZERO = 1 << 4;

  // structured replies
  static final int REPLY_FLAG_DONE = 1;
  static final int REPLY_TYPE_NONE = 0;
  static final int REPLY_TYPE_OFFSET_DATA = 1;
  static final int REPLY_TYPE_OFFSET_HOLE = 2;
  static final int REPLY_TYPE_BLOCK_STATUS = 5;
  static final int REPLY_TYPE_ERROR = (1 << 15) | 1;
  static final int REPLY_TYPE_ERROR_OFFSET = (1 << 15) | 2;

  // the base:allocation metadata context
  static final String BASE_ALLOCATION = "base:allocation";
  static final int STATE_HOLE = 1;
  static final int STATE_ZERO = 1 << 1;

  // errors
  static final int EPERM = 1;
  static final int EIO = 5;
  static final int ENOMEM = 12;
  static final int EINVAL = 22;
  static final int ENOSPC = 28;
  static final int EOVERFLOW = 75;
  static final int ENOTSUP = 95;
  static final int ESHUTDOWN = 108;

  /** Longest string (export name, description) the protocol allows. */
  static final int MAX_STRING = 4096;

  /** Payload limit every peer accepts ({@code 2^25}); also the default maximum payload. */
  static final int MAX_PAYLOAD = 1 << 25;

  /** Request header: magic, flags, type, cookie, offset, length. */
  static final int REQUEST_SIZE = 28;

  static final int SIMPLE_REPLY_SIZE = 16;
  static final int STRUCTURED_HEADER_SIZE = 20;

  /** The NBD error value a status is reported as. */
  static int errorOf(BlockStatus s) {
    switch (s) {
      case OK:
        return 0;
      case NOSPC:
        return ENOSPC;
      case INVAL:
      case NOTSUPP: // proto.md: ENOTSUP only for FAST_ZERO; operations we do not offer are EINVAL
        return EINVAL;
      case RESOURCE:
      case DEV_RESOURCE:
        return ENOMEM;
      default:
        return EIO;
    }
  }

  /** The status an NBD error value from a server maps to; unknown values count as EINVAL. */
  static BlockStatus statusOf(int error) {
    switch (error) {
      case 0:
        return BlockStatus.OK;
      case EPERM:
      case EIO:
        return BlockStatus.IOERR;
      case ENOMEM:
        return BlockStatus.RESOURCE;
      case ENOSPC:
        return BlockStatus.NOSPC;
      case ENOTSUP:
        return BlockStatus.NOTSUPP;
      case ESHUTDOWN:
        return BlockStatus.TRANSPORT;
      case EINVAL:
      case EOVERFLOW:
      default:
        return BlockStatus.INVAL;
    }
  }

  static String errorName(int error) {
    switch (error) {
      case EPERM:
        return "NBD_EPERM";
      case EIO:
        return "NBD_EIO";
      case ENOMEM:
        return "NBD_ENOMEM";
      case EINVAL:
        return "NBD_EINVAL";
      case ENOSPC:
        return "NBD_ENOSPC";
      case EOVERFLOW:
        return "NBD_EOVERFLOW";
      case ENOTSUP:
        return "NBD_ENOTSUP";
      case ESHUTDOWN:
        return "NBD_ESHUTDOWN";
      default:
        return "error " + error;
    }
  }

  static String optionName(int option) {
    switch (option) {
      case OPT_EXPORT_NAME:
        return "NBD_OPT_EXPORT_NAME";
      case OPT_ABORT:
        return "NBD_OPT_ABORT";
      case OPT_LIST:
        return "NBD_OPT_LIST";
      case OPT_STARTTLS:
        return "NBD_OPT_STARTTLS";
      case OPT_INFO:
        return "NBD_OPT_INFO";
      case OPT_GO:
        return "NBD_OPT_GO";
      case OPT_STRUCTURED_REPLY:
        return "NBD_OPT_STRUCTURED_REPLY";
      case OPT_LIST_META_CONTEXT:
        return "NBD_OPT_LIST_META_CONTEXT";
      case OPT_SET_META_CONTEXT:
        return "NBD_OPT_SET_META_CONTEXT";
      default:
        return "option " + option;
    }
  }

  static String replyName(int reply) {
    switch (reply) {
      case REP_ACK:
        return "NBD_REP_ACK";
      case REP_SERVER:
        return "NBD_REP_SERVER";
      case REP_INFO:
        return "NBD_REP_INFO";
      case REP_META_CONTEXT:
        return "NBD_REP_META_CONTEXT";
      case REP_ERR_UNSUP:
        return "NBD_REP_ERR_UNSUP";
      case REP_ERR_POLICY:
        return "NBD_REP_ERR_POLICY";
      case REP_ERR_INVALID:
        return "NBD_REP_ERR_INVALID";
      case REP_ERR_PLATFORM:
        return "NBD_REP_ERR_PLATFORM";
      case REP_ERR_TLS_REQD:
        return "NBD_REP_ERR_TLS_REQD";
      case REP_ERR_UNKNOWN:
        return "NBD_REP_ERR_UNKNOWN";
      case REP_ERR_SHUTDOWN:
        return "NBD_REP_ERR_SHUTDOWN";
      case REP_ERR_BLOCK_SIZE_REQD:
        return "NBD_REP_ERR_BLOCK_SIZE_REQD";
      case REP_ERR_TOO_BIG:
        return "NBD_REP_ERR_TOO_BIG";
      default:
        return "reply 0x" + Integer.toHexString(reply);
    }
  }
}
