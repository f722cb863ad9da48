// SafetyNet case-worker UI: the only script. Plain JS, no dependencies.
(function () {
  "use strict";
  // After a task is completed the workflow creates the next task a moment later: poll the case page's
  // live part until the server says it has settled (at most about 30 s), then stop.
  const live = document.getElementById("live");
  if (live) {
    let tries = 0;
    const poll = async function () {
      const state = live.querySelector("[data-settled]");
      if (!state || state.dataset.settled === "1" || tries++ >= 40) return;
      try {
        const response = await fetch(live.dataset.src, { credentials: "same-origin" });
        if (response.redirected) { window.location.reload(); return; }
        if (response.ok) live.innerHTML = await response.text();
      } catch (err) { /* offline for a moment: try again */ }
      window.setTimeout(poll, 750);
    };
    window.setTimeout(poll, 500);
  }
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
