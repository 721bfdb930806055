/* The workflows list: a workflow submitted while the list is open arrives as a new row at the
 * top (unless "Pause new rows" is ticked); rows already shown refresh themselves (app.js). */
(function () {
  "use strict";
  var asked = new Set();

  function arrive(event) {
    if (event.type !== "workflow.started" || !event.workflow_id) return;
    var tbody = document.getElementById("workflow-rows");
    if (!tbody || !tbody.dataset.workflowPrepend) return;
    if (document.getElementById("workflow-" + event.workflow_id) || asked.has(event.workflow_id)) return;
    var pause = tbody.dataset.pauseWith && document.getElementById(tbody.dataset.pauseWith);
    if (pause && pause.checked) return;
    asked.add(event.workflow_id);
    var url = tbody.dataset.workflowPrepend.replace("{id}", event.workflow_id);
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : ""; }).then(function (html) {
      if (document.getElementById("workflow-" + event.workflow_id)) return;
      var row = window.Conveyor.prependRow(tbody, html);
      if (row) window.Conveyor.refresh(row.id);  // events that came while it was fetched are read now
    }).catch(function () { asked.delete(event.workflow_id); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.Conveyor) window.Conveyor.onEvent(arrive);
  });
})();
