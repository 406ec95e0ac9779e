/* The pages behind the emailed links: confirm as the page opens; withdraw on a click only
   (mail scanners open links, and must not withdraw anyone). */
(function () {
  "use strict";

  var A = window.Advocacy;
  var page = A.page;
  var t = A.t;
  var token = new URLSearchParams(window.location.search).get("token");
  if (!page.hasToken || !token) {
    return;
  }
  var status = document.getElementById("token-status");
  var retry = document.getElementById("retry-button");
  var petitionLink = document.getElementById("petition-link");
  var ask = document.getElementById("withdraw-ask");
  var withdrawButton = document.getElementById("withdraw-button");
  var confirming = page.action === "confirm";
  var url = confirming ? "/v1/signatures/confirm" : "/v1/signatures/withdraw";
  var OUTCOMES = {
    confirmed: "confirm_done",
    already_confirmed: "confirm_already",
    held_for_review: "confirm_held",
    withdrawn: "withdraw_done",
    already_withdrawn: "withdraw_already",
  };

  function show(message, kind, focus) {
    status.textContent = message;
    status.classList.toggle("is-error", kind === "error");
    status.classList.toggle("is-done", kind === "done");
    status.dataset.outcome = kind || "";
    if (focus) {
      status.focus();
    }
  }

  async function run() {
    retry.hidden = true;
    show(t(confirming ? "confirm_working" : "withdraw_working"), "", false);
    var result;
    try {
      result = await A.postJson(url, { token: token });
    } catch (error) {
      show(t("request_failed"), "error", false);
      retry.hidden = false;
      retry.focus();
      return;
    }
    if (withdrawButton) {
      withdrawButton.disabled = false;
    }
    var body = result.body || {};
    if (result.status === 200 && OUTCOMES[body.status]) {
      if (ask) {
        ask.hidden = true;
      }
      if (body.petition_slug) {
        petitionLink.href = A.withLang("/petitions/" + encodeURIComponent(body.petition_slug));
      }
      show(t(OUTCOMES[body.status]), "done", true);
    } else if (result.status === 410) {
      show(t(confirming ? "confirm_expired" : "link_expired"), "error", true);
    } else if (result.status === 404 || result.status === 422) {
      if (ask) {
        ask.hidden = true;
      }
      show(t("link_unknown"), "error", true);
    } else if (result.status === 429) {
      show(t("rate_limited"), "error", true);
      retry.hidden = false;
    } else {
      show(t("server_error"), "error", true);
      retry.hidden = false;
    }
  }

  retry.addEventListener("click", run);
  if (confirming) {
    run();
  } else if (withdrawButton) {
    withdrawButton.disabled = false;
    withdrawButton.addEventListener("click", function () {
      withdrawButton.disabled = true;
      run();
    });
  }
})();
