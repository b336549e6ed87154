// chainpay refund page: sends the customer's destination once (the page's CSP allows no
// form posts, only same-origin connections), then shows it locked.
(function () {
  'use strict';

  var root = document.getElementById('refund');
  if (!root) { return; }
  var data = root.dataset;
  var $ = function (id) { return document.getElementById(id); };
  var button = $('claim-button');
  if (!button) { return; }

  function showError(text) {
    var el = $('claim-error');
    el.textContent = text;
    el.hidden = false;
  }

  button.addEventListener('click', function () {
    var dest = $('destination-input').value.trim();
    button.disabled = true;
    $('claim-error').hidden = true;
    fetch(data.claimUrl, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({destination: dest}),
      credentials: 'omit'
    }).then(function (res) {
      return res.json().then(function (body) { return {ok: res.ok, body: body}; });
    }).then(function (r) {
      if (!r.ok) {
        showError(r.body.detail || data.msgError);
        button.disabled = false;
        return;
      }
      $('claim').hidden = true;
      $('status-title').textContent = r.body.title;
      $('status-detail').textContent = r.body.detail;
      root.className = 'checkout refund state-' + r.body.state;
      var dl = document.createElement('dl');
      dl.className = 'fields';
      var div = document.createElement('div');
      div.className = 'field';
      var dt = document.createElement('dt');
      dt.textContent = r.body.address_label;
      var dd = document.createElement('dd');
      var code = document.createElement('code');
      code.id = 'destination';
      code.className = 'value';
      code.textContent = r.body.destination;
      dd.appendChild(code);
      div.appendChild(dt);
      div.appendChild(dd);
      dl.appendChild(div);
      root.appendChild(dl);
    }).catch(function () {
      showError(data.msgError);
      button.disabled = false;
    });
  });
}());
