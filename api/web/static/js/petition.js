/* The petition page: live count toward the next milestone, and the signing form sent through
   the JSON API (the same form posts to the page without JavaScript). */
(function () {
  "use strict";

  var A = window.Advocacy;
  var page = A.page;
  var t = A.t;

  /* --- the count --------------------------------------------------------------------- */

  var countText = document.getElementById("count-text");
  var progress = document.getElementById("count-progress");
  var fill = document.getElementById("count-fill");
  var goalText = document.getElementById("count-goal");
  var milestoneText = document.getElementById("count-milestone");
  var shown = { verified: null, goal: null };

  function showCount(verified, goal) {
    if (verified === shown.verified && goal === shown.goal) {
      return;
    }
    var firstTime = shown.verified === null;
    shown = { verified: verified, goal: goal };
    var milestone = nextMilestone(verified, goal);
    var values = { verified: A.formatNumber(verified), goal: A.formatNumber(goal) };
    countText.textContent = t(verified === 1 ? "count_text_one" : "count_text", values);
    if (!firstTime) {
      announce();
    }
    goalText.textContent = t("count_goal", values);
    milestoneText.textContent = t("next_milestone", { milestone: A.formatNumber(milestone) });
    progress.setAttribute("aria-valuemax", String(milestone));
    progress.setAttribute("aria-valuenow", String(Math.min(verified, milestone)));
    progress.setAttribute(
      "aria-valuetext",
      t("progress_valuetext", { verified: values.verified, goal: A.formatNumber(milestone) })
    );
    var percent = milestone > 0 ? Math.min(100, (verified / milestone) * 100) : 0;
    fill.setAttribute("width", percent.toFixed(2) + "%");
    countText.dataset.verified = String(verified);
  }

  /* The first step above the count: 10, 25, 50, 100, 250, ... and the petition's own
     milestones and goal (as api/web/momentum.py's next_milestone). */
  function nextMilestone(verified, goal) {
    var candidates = (page.milestones || []).filter(function (m) { return m > 0; });
    if (goal > 0) {
      candidates.push(goal);
    }
    for (var scale = 1; scale <= Math.max(verified, 1) * 10; scale *= 10) {
      candidates.push(10 * scale, 25 * scale, 50 * scale);
    }
    return Math.min.apply(null, candidates.filter(function (m) { return m > verified; }));
  }

  /* Screen readers hear the new count at most every 20 s, however fast it moves. */
  var live = document.getElementById("count-live");
  var announced = 0;
  var announceTimer = null;

  function announce() {
    clearTimeout(announceTimer);
    var wait = Math.max(0, announced + 20000 - Date.now());
    announceTimer = setTimeout(function () {
      announced = Date.now();
      live.textContent = countText.textContent;
    }, wait);
  }

  var pollTimer = null;

  function poll() {
    if (document.hidden) {
      pollTimer = setTimeout(poll, 10000);
      return;
    }
    fetch(page.countUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (count) {
        if (count) {
          showCount(count.verified, count.goal);
        }
      })
      .catch(function () { /* try again at the next tick */ })
      .finally(function () { pollTimer = setTimeout(poll, 10000); });
  }

  function startPolling() {
    if (pollTimer === null) {
      document.documentElement.dataset.live = "polling";
      pollTimer = setTimeout(poll, 0);
    }
  }

  /* Server-Sent Events, with polling every 10 s when EventSource is missing or keeps failing.
     EventSource reconnects by itself after a dropped connection; three errors in a row with no
     event between them, or a refused stream, mean it is not going to work here. */
  function startLive() {
    if (!("EventSource" in window)) {
      startPolling();
      return;
    }
    var failures = 0;
    var source = new EventSource(page.eventsUrl);
    source.addEventListener("open", function () {
      document.documentElement.dataset.live = "events";
    });
    source.addEventListener("count", function (event) {
      failures = 0;
      try {
        var count = JSON.parse(event.data);
        showCount(count.verified, count.goal);
      } catch (error) { /* ignore a malformed event */ }
    });
    source.addEventListener("error", function () {
      failures += 1;
      if (source.readyState === EventSource.CLOSED || failures >= 3) {
        source.close();
        startPolling();
      }
    });
  }

  if (countText && progress) {
    showCount(page.verified, page.goal);
    startLive();
  }

  /* --- the form ------------------------------------------------------------------------ */

  var form = document.getElementById("sign-form");
  if (!form) {
    return;
  }
  var submit = document.getElementById("sign-submit");
  var status = document.getElementById("form-status");
  var done = document.getElementById("sign-done");
  var doneText = document.getElementById("sign-done-text");
  var FIELDS = ["first_name", "last_name", "email", "postal_code", "country", "comment"];
  var US_ZIP = /^\d{5}(-\d{4})?$/;

  function setStatus(message, isError) {
    status.textContent = message;
    status.classList.toggle("is-error", Boolean(isError));
  }

  function describedBy(name, withError) {
    var ids = [];
    if (withError) {
      ids.push(name + "-error");
    }
    if (document.getElementById(name + "-hint")) {
      ids.push(name + "-hint");
    }
    return ids.join(" ");
  }

  function clearErrors() {
    FIELDS.forEach(function (name) {
      var input = document.getElementById(name);
      var error = document.getElementById(name + "-error");
      error.hidden = true;
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      var ids = describedBy(name, false);
      if (ids) {
        input.setAttribute("aria-describedby", ids);
      } else {
        input.removeAttribute("aria-describedby");
      }
    });
    setStatus("", false);
  }

  /* errors: {fieldName: message}. Shows each next to its field, then focuses the first. */
  function showErrors(errors) {
    var first = null;
    FIELDS.forEach(function (name) {
      if (!Object.prototype.hasOwnProperty.call(errors, name)) {
        return;
      }
      var input = document.getElementById(name);
      var error = document.getElementById(name + "-error");
      error.textContent = errors[name];
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", describedBy(name, true));
      first = first || input;
    });
    setStatus(t("errors_summary"), true);
    if (first) {
      first.focus();
    }
  }

  function clientErrors(values) {
    var errors = {};
    ["first_name", "last_name", "email", "postal_code"].forEach(function (name) {
      if (!values[name]) {
        errors[name] = t("err_" + name + "_missing");
      }
    });
    var email = document.getElementById("email");
    if (values.email && (email.validity.typeMismatch || values.email.indexOf("@") < 1)) {
      errors.email = t("err_email_invalid");
    }
    if (values.postal_code && values.country === "US" && !US_ZIP.test(values.postal_code)) {
      errors.postal_code = t("err_postal_code_invalid");
    }
    if (values.comment && values.comment.length > 500) {
      errors.comment = t("err_comment_invalid");
    }
    return errors;
  }

  /* The server's field errors (problem+json `errors`): its own messages, written to be shown
     next to the field and asked for in the page's language (Accept-Language). */
  function serverErrors(problem) {
    var errors = {};
    ((problem && problem.errors) || []).forEach(function (item) {
      var name = String(item.field || "").split(".")[0];
      if (FIELDS.indexOf(name) < 0 || errors[name]) {
        return;
      }
      var message = item.message || "";
      if (message) {
        message = message.charAt(0).toUpperCase() + message.slice(1);
        if (!/[.!?]$/.test(message)) {
          message += ".";
        }
      } else {
        var kind = item.code === "required" ? "missing" : "invalid";
        message = t("err_" + name + "_" + kind) || t("err_generic");
      }
      errors[name] = message;
    });
    return errors;
  }

  function values() {
    var data = {};
    FIELDS.forEach(function (name) {
      data[name] = document.getElementById(name).value.trim();
    });
    return data;
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues does not.
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
      .join("-");
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // One Idempotency-Key per signature attempt: kept for every retry of the same answers, so a
  // request that reached the server before the connection dropped is not counted twice.
  var attempt = null;
  var inFlight = false;
  var RETRY_DELAYS = [1000, 3000];

  async function send(payload) {
    for (var tries = 0; ; tries += 1) {
      try {
        var result = await A.postJson(page.signUrl, payload, {
          "Idempotency-Key": attempt.key,
          "Accept-Language": page.lang,
        });
        if ([502, 503, 504].indexOf(result.status) < 0 || tries >= RETRY_DELAYS.length) {
          return result;
        }
      } catch (error) {
        if (tries >= RETRY_DELAYS.length) {
          return null;
        }
      }
      setStatus(t("retrying"), false);
      await sleep(RETRY_DELAYS[tries]);
    }
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (inFlight) {
      return;
    }
    clearErrors();
    var data = values();
    var problems = clientErrors(data);
    if (Object.keys(problems).length) {
      showErrors(problems);
      return;
    }
    var payload = {
      first_name: data.first_name,
      last_name: data.last_name,
      email: data.email,
      postal_code: data.postal_code,
      country: data.country,
      display_publicly: document.getElementById("display_publicly").checked,
      contact_opt_in: document.getElementById("contact_opt_in").checked,
      locale: page.lang,
    };
    if (data.comment) {
      payload.comment = data.comment;
    }
    var ref = document.getElementById("ref").value;
    if (ref) {
      payload.ref = ref;  // the shared link the visitor came by, counted only in aggregate
    }
    var trap = document.getElementById("website").value;
    if (trap) {
      payload.website = trap;  // only a bot fills it; the API then stores nothing
    }
    var body = JSON.stringify(payload);
    if (!attempt || attempt.body !== body) {
      attempt = { key: newKey(), body: body };
    }

    inFlight = true;
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    setStatus(t("sending"), false);
    var result = await send(payload);
    inFlight = false;
    submit.disabled = false;
    form.removeAttribute("aria-busy");

    if (result === null) {
      setStatus(t("network_failed"), true);
      submit.focus();
      return;
    }
    if (result.status === 202) {
      attempt = null;
      form.hidden = true;
      setStatus("", false);
      doneText.textContent = t("sent_text", { email: payload.email });
      done.hidden = false;
      done.focus();
      return;
    }
    if (result.status === 422) {
      var errors = serverErrors(result.body);
      if (Object.keys(errors).length) {
        showErrors(errors);
        return;
      }
      setStatus((result.body && result.body.detail) || t("server_error"), true);
    } else if (result.status === 409) {
      setStatus(t("not_open"), true);
    } else if (result.status === 429) {
      setStatus(t("rate_limited"), true);
    } else {
      setStatus(t("server_error"), true);
    }
    submit.focus();
  });
})();
