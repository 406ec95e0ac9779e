/* The pages behind the emailed links. On the confirm page the script presses "Confirm my
   signature" as the page opens (the form works the same without it); withdrawing always takes
   a click, since mail scanners open links and must not withdraw anyone. On the answer, the
   outcome gets the focus, so screen readers read it first. */
(function () {
  "use strict";

  var form = document.getElementById("confirm-form");
  if (form && !form.dataset.sent) {
    form.dataset.sent = "1";
    document.getElementById("confirm-button").disabled = true;
    form.submit();
    return;
  }
  var status = document.getElementById("token-status");
  if (status && status.dataset.outcome) {
    status.focus();
  }
})();
