/* The confirm page behind the emailed link: the script presses "Confirm my signature" as the
   page opens (the form works the same without it). Withdrawing always takes a click: mail
   scanners open links, and must not withdraw anyone. */
(function () {
  "use strict";

  var form = document.getElementById("confirm-form");
  if (form && !form.dataset.sent) {
    form.dataset.sent = "1";
    document.getElementById("confirm-button").disabled = true;
    form.submit();
  }
})();
