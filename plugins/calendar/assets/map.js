// The directory's map and position (C1). Without this script the search and its result
// list work as they are: it only adds the map of the listed facilities and the button that
// fills the search form's position fields, once the person ticked the consent box.
(function () {
  'use strict';

  var form = document.querySelector('form.finder');
  var locate = document.getElementById('f-locate');
  if (form && locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener('click', function () {
      var consent = document.getElementById('f-geo');
      var status = document.getElementById('locate-status');
      if (!consent || !consent.checked) {
        status.textContent = locate.getAttribute('data-need-consent');
        if (consent) consent.focus();
        return;
      }
      status.textContent = locate.getAttribute('data-locating');
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.elements.lat.value = pos.coords.latitude.toFixed(4);
        form.elements.lon.value = pos.coords.longitude.toFixed(4);
        form.submit();
      }, function () {
        status.textContent = locate.getAttribute('data-failed');
      }, { timeout: 10000, maximumAge: 600000 });
    });
  }

  var el = document.getElementById('calendar-map');
  if (!el || !window.L) return;
  var spots = document.querySelectorAll('.doctors [data-lat][data-lon]');
  var bounds = [];
  var marks = [];
  for (var i = 0; i < spots.length; i++) {
    var lat = parseFloat(spots[i].getAttribute('data-lat'));
    var lon = parseFloat(spots[i].getAttribute('data-lon'));
    if (isFinite(lat) && isFinite(lon)) {
      bounds.push([lat, lon]);
      var card = spots[i].closest('li');
      var link = card ? card.querySelector('h3 a') : null;
      marks.push({ at: [lat, lon], title: spots[i].getAttribute('data-title') || '', href: link ? link.getAttribute('href') : '' });
    }
  }
  if (!marks.length) return;
  el.hidden = false;
  var map = L.map(el, { scrollWheelZoom: false });
  // The attribution is the tenant's text: shown as text, never as markup.
  var attribution = document.createElement('span');
  attribution.textContent = el.getAttribute('data-attribution') || '';
  L.tileLayer(el.getAttribute('data-tiles'), { attribution: attribution.innerHTML, maxZoom: 19 }).addTo(map);
  marks.forEach(function (mk) {
    var link = document.createElement('a');
    link.href = mk.href;
    link.textContent = mk.title;
    L.marker(mk.at, { title: mk.title, alt: mk.title }).addTo(map).bindPopup(link);
  });
  map.fitBounds(bounds, { maxZoom: 14, padding: [24, 24] });
  el.setAttribute('data-ready', '1');
})();
