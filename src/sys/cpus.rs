//! CPU affinity: the CPUs this process may use, as the kernel's mask, and
//! keeping to one of them.

use super::cvt;
use std::io;

/// The CPUs this process may run on, as the kernel's mask (sched_getaffinity),
/// its bytes as sched_setaffinity takes them back.
pub fn cpu_mask() -> io::Result<Vec<u8>> {
    // SAFETY: a zeroed cpu_set_t is an empty set, which sched_getaffinity fills.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a cpu_set_t of `size` bytes.
    cvt(unsafe { libc::sched_getaffinity(0, size, &mut set) })?;
    let bytes = bytes_of(&set);
    // Whole words of it, without the empty ones at the end.
    let used = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let word = std::mem::size_of::<libc::c_ulong>();
    Ok(bytes[..(used + word - 1) / word * word].to_vec())
}

/// A CPU set's bytes, as the kernel reads and writes them.
fn bytes_of(set: &libc::cpu_set_t) -> &[u8] {
    // SAFETY: a cpu_set_t is plain bytes, borrowed for as long as `set` is.
    unsafe {
        std::slice::from_raw_parts(
            (set as *const libc::cpu_set_t).cast::<u8>(),
            std::mem::size_of::<libc::cpu_set_t>(),
        )
    }
}

/// The CPUs a mask from [`cpu_mask`] holds, in order.
pub fn cpus_in(mask: &[u8]) -> Vec<usize> {
    (0..mask.len() * 8)
        .filter(|&cpu| {
            let (byte, bit) = mask_bit(cpu);
            mask.get(byte).map_or(false, |b| b & bit != 0)
        })
        .collect()
}

/// Where `cpu` is in a mask's bytes: the byte, and its bit.
fn mask_bit(cpu: usize) -> (usize, u8) {
    mask_bit_in(
        cpu,
        std::mem::size_of::<libc::c_ulong>(),
        cfg!(target_endian = "big"),
    )
}

/// Where `cpu` is in a mask whose words are `word` bytes long, in either
/// byte order: the kernel reads a mask as an array of unsigned longs, `cpu`
/// bit `cpu % bits` of word `cpu / bits`, as `CPU_SET` sets it.
fn mask_bit_in(cpu: usize, word: usize, big_endian: bool) -> (usize, u8) {
    let (index, bit) = (cpu / (8 * word), cpu % (8 * word));
    let byte = if big_endian {
        word - 1 - bit / 8
    } else {
        bit / 8
    };
    (index * word + byte, 1 << (bit % 8))
}

/// Lets this process (and the children it forks from now on) run on the CPUs
/// of `mask`, from [`cpu_mask`].
pub fn set_cpu_mask(mask: &[u8]) -> io::Result<()> {
    // SAFETY: sched_setaffinity reads `mask.len()` bytes of `mask` as a CPU set.
    cvt(unsafe { libc::sched_setaffinity(0, mask.len(), mask.as_ptr().cast()) }).map(|_| ())
}

/// More CPUs than Linux numbers (NR_CPUS is at most 8192): a mask for a CPU
/// beyond is refused, not allocated.
const CPU_LIMIT: usize = 1 << 16;

/// Keeps this process (and the children it forks from now on) on `cpu`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    if cpu >= CPU_LIMIT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no CPU {}", cpu),
        ));
    }
    let word = std::mem::size_of::<libc::c_ulong>();
    let mut mask = vec![0u8; (cpu / 8 / word + 1) * word];
    let (byte, bit) = mask_bit(cpu);
    mask[byte] |= bit;
    set_cpu_mask(&mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CPU's bit is where the kernel looks for it, in words of 4 or 8
    /// bytes, in either byte order.
    #[test]
    fn a_cpus_bit_is_in_the_word_the_kernel_reads() {
        for cpu in [0, 1, 7, 8, 9, 31, 32, 63, 64, 70] {
            let long = (1u64 << (cpu % 64)).to_le_bytes();
            let big = (1u64 << (cpu % 64)).to_be_bytes();
            let int = (1u32 << (cpu % 32)).to_le_bytes();
            let big_int = (1u32 << (cpu % 32)).to_be_bytes();
            for (word, big_endian, bytes) in [
                (8, false, &long[..]),
                (8, true, &big[..]),
                (4, false, &int[..]),
                (4, true, &big_int[..]),
            ] {
                let (byte, bit) = mask_bit_in(cpu, word, big_endian);
                let at = byte % word;
                assert_eq!(byte / word, cpu / (8 * word), "cpu {}", cpu);
                assert_eq!(bytes[at], bit, "cpu {} in {:?}", cpu, (word, big_endian));
                assert_eq!(bytes.iter().filter(|&&b| b != 0).count(), 1);
            }
        }
    }

    /// Here, as libc's `CPU_SET` makes a set.
    #[test]
    fn cpus_in_reads_a_set_as_cpu_set_makes_it() {
        let cpus = [0, 3, 9, 31, 32, 70];
        // SAFETY: a zeroed cpu_set_t is an empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &cpu in &cpus {
            #[allow(unused_unsafe)]
            // SAFETY: each CPU is within the set.
            unsafe {
                libc::CPU_SET(cpu, &mut set)
            };
        }
        assert_eq!(cpus_in(bytes_of(&set)), cpus);
    }
}
