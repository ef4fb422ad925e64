//! Replays of finished jobs. At a job's end a renderer may ask for its records
//! again (`--qvf` shows a failing file's whole output): they are read back from
//! the job's log on disk, before the log is deleted, a bounded piece at a time,
//! so no job's output is held in memory while it runs, however long it is. Only
//! the kinds a renderer asked for reach it (and are decoded only if it reads
//! them).

use crate::event::{splice_job, Event, Interest};
use crate::ljsonl::{Next, Tail};
use crate::render::Renderer;
use std::io;
use std::path::Path;

/// Where a job's records are.
pub struct JobLog<'a> {
    pub path: &'a Path,
    /// Where its records start: 0 in a log of its own, after the segment's
    /// first record in a standing auditor's.
    pub start: u64,
    /// `,"job":N,"try":M`, put after the type of each record, as in the
    /// event log.
    pub prefix: &'a [u8],
}

/// Hands each renderer of `asks` (by its index in `renderers`) the records of
/// `log` of the kinds it asked for, then ends its replay. Without a log (a job
/// that never wrote one), the replays end with nothing. A renderer that
/// cannot write is reported, as for any event.
pub fn replay(
    renderers: &mut [Box<dyn Renderer>],
    asks: &[(usize, Interest)],
    log: Option<&JobLog>,
) {
    if let Some(log) = log {
        let wanted = asks
            .iter()
            .fold(Interest::NONE, |all, (_, i)| all.union(*i));
        let read = read_back(log, wanted, |event| {
            for (r, interest) in asks {
                if interest.contains(event.kind()) {
                    super::report(renderers[*r].replayed(event));
                }
            }
        });
        if let Err(e) = read {
            errln!("proctor: unable to replay {}: {}", log.path.display(), e);
        }
    }
    for (r, _) in asks {
        super::report(renderers[*r].replay_end());
    }
}

/// Reads the job's records of the `wanted` kinds from its log, up to the end of
/// its segment (or of what there is, for a job whose log never ended).
fn read_back(log: &JobLog, wanted: Interest, mut each: impl FnMut(&mut Event)) -> io::Result<()> {
    let mut tail = Tail::open_at(log.path, log.start)?;
    let mut line = Vec::new();
    loop {
        let read = tail.read_some()?;
        loop {
            let record = match tail.decoder.next_record() {
                Next::Record(r) => r,
                Next::Pending => break,
                Next::End | Next::Corrupt(_) => return Ok(()),
            };
            if wanted.contains(Event::new(record).kind()) {
                line.clear();
                splice_job(&mut line, record, log.prefix);
                each(&mut Event::new(&line));
            }
        }
        if read == 0 {
            return Ok(());
        }
    }
}
