/**
 * The kernel's persistent-data library: metadata blocks read and written through bufio with
 * checksum validators, shadowed in transactions committed through a superblock, reference-counted
 * by space maps, and indexed by B-trees in the kernel's node format.
 */
package io.jdm.persistentdata;
