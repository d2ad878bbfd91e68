// throttle.js: the dashboard's one request throttle: one request at a time, at
// most one per interval, and none lost (asked for while one runs, it runs again
// after it).

/**
 * A function that runs `run` (async) as asked, throttled: at most one run at
 * a time and one start per `minIntervalMs`; a call during a run (or a run
 * that resolves true, "ask again") makes one more run after it.
 */
export function throttled(minIntervalMs, run) {
  const f = { inflight: false, dirty: false, timer: null, last: -Infinity };
  const go = async () => {
    f.inflight = true;
    f.last = Date.now();
    try {
      if ((await run()) === true) f.dirty = true;
    } finally {
      f.inflight = false;
    }
    if (f.dirty) {
      f.dirty = false;
      request();
    }
  };
  function request() {
    if (f.inflight) {
      f.dirty = true;
      return;
    }
    if (f.timer) return;
    const wait = f.last + minIntervalMs - Date.now();
    if (wait > 0) {
      f.timer = setTimeout(() => {
        f.timer = null;
        go();
      }, wait);
      return;
    }
    go();
  }
  return request;
}
