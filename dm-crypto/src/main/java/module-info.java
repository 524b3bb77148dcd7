/** The crypt target and LUKS: dm-crypt's on-disk encryption and cryptsetup's containers. */
module io.jdm.crypto {
  requires transitive io.jdm.core;
  requires org.bouncycastle.provider;
  requires com.fasterxml.jackson.databind;

  exports io.jdm.crypto;
  exports io.jdm.crypto.luks;

  uses io.jdm.crypto.KeyProvider;

  provides io.jdm.core.TargetType with
      io.jdm.crypto.CryptTargetType;
}
