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
  const source = new EventSource(box.dataset.events);
  source.addEventListener("progress", (e) => show(JSON.parse(e.data)));
  source.addEventListener("end", (e) => {
    const ev = JSON.parse(e.data);
    source.close();
    show(ev);
    box.dataset.finished = "yes";
    document.querySelectorAll("#cancel").forEach((b) => b.closest("form").remove());
    if (ev.state === "succeeded" && ev.run_id) {
      const report = document.getElementById("report");
      const href = "/runs/" + encodeURIComponent(ev.run_id) + "/report";
      document.getElementById("report-link").href = href;
      const frame = document.createElement("iframe");
      frame.title = "report";
      frame.src = href;
      report.appendChild(frame);
      report.hidden = false;
    }
  });
  // a dropped connection is retried by EventSource itself; a closed stream after "end" is not
})();
