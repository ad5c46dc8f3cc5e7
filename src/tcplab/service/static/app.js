// tcplab dashboard: follow a job's progress over Server-Sent Events (no library, no CDN).
"use strict";
(function () {
  const box = document.getElementById("progress");
  if (!box || box.dataset.finished === "yes" || !window.EventSource) return;
  const pct = (done, total) => (total === 0 ? (done === 0 ? 100 : 0) : Math.floor((100 * done) / total));
  const setBar = (bar, done, total, state) => {
    const p = pct(done, total);
    bar.className = "bar " + state;
    bar.setAttribute("aria-valuenow", String(p));
    bar.querySelector(".fill").style.width = p + "%";
    bar.querySelector(".label").textContent = done + " / " + total;
  };
  const show = (ev) => {
    const state = document.getElementById("state");
    state.textContent = ev.state;
    state.className = "state " + ev.state;
    for (const [arm, p] of Object.entries(ev.arms)) {
      const bar = box.querySelector('.bar[data-arm="' + CSS.escape(arm) + '"]');
      if (bar) setBar(bar, p.done, p.total, ev.state);
      const fails = box.querySelector('.failures[data-arm="' + CSS.escape(arm) + '"]');
      if (fails) fails.textContent = String(p.failures);
    }
    document.getElementById("summary").textContent =
      ev.trials_done + " / " + ev.trials_total + " trials · " + ev.failures + " failures";
    const eta = document.getElementById("eta");
    eta.textContent = ev.rate_per_s ? ev.rate_per_s.toFixed(1) + " trials/s · about " +
      Math.ceil(ev.eta_s) + " s left" : "";
    const reason = document.getElementById("reason");
    if (ev.reason) { reason.hidden = false; reason.textContent = ev.reason; reason.className = "reason " + ev.state; }
  };
  // once the job has ended, the page's facts, actions and report come from the server again
  const refresh = () =>
    fetch(window.location.href, { credentials: "same-origin" })
      .then((r) => r.text())
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html");
        for (const id of ["actions", "facts", "report"]) {
          const now = document.getElementById(id);
          const next = fresh.getElementById(id);
          if (now && next) now.replaceWith(document.importNode(next, true));
        }
      });
  const source = new EventSource(box.dataset.events);
  source.addEventListener("progress", (e) => show(JSON.parse(e.data)));
  source.addEventListener("end", (e) => {
    const ev = JSON.parse(e.data);
    source.close();
    show(ev);
    box.dataset.finished = "yes";
    refresh();
  });
  // a dropped connection is retried by EventSource itself; a closed stream after "end" is not
})();
