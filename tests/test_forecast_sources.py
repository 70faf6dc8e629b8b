"""Forecasting datasets: the real files in $RNNLAB_DATA, and published formats we generate."""

import hashlib
import zipfile

import numpy as np
import pandas as pd
import pytest

from forecast_fixtures import write_jena_zip, write_krakow, write_pems_npz
from rnnlab.data import registry
from rnnlab.data.sources import beijing_multisite, beijing_pm25, jena, krakow, pems
from rnnlab.errors import DataError


@pytest.mark.realdata
def test_beijing_pm25_real_file(real_data):
    s = beijing_pm25.load(real_data)
    assert s.values.shape == (43824, 1, 7) and s.features[2] == "TEMP"
    assert s.index[0] == pd.Timestamp("2010-01-01 00:00") and s.index[-1] == \
        pd.Timestamp("2014-12-31 23:00")
    assert np.isnan(s.values[:, 0, 0]).sum() == 2067  # the NA readings of PM2.5
    assert not np.isnan(s.values[:, 0, 1:]).any()
    temp = s.values[:, 0, 2]
    assert temp.min() == -19 and temp.max() == 42 and s.unit_of("TEMP") == "°C"


def test_beijing_pm25_reads_the_uci_header(tmp_path):
    path = tmp_path / "uci.csv"
    path.write_bytes(b"No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws,Is,Ir\r\n"
                     b"1,2010,1,1,0,NA,-21,-11,1021,NW,1.79,0,0\r\n"
                     b"2,2010,1,1,1,129,-16,-4,1020,SE,1.79,0,0\r\n")
    s = beijing_pm25.read(path)
    assert np.isnan(s.values[0, 0, 0]) and s.values[1, 0, 0] == 129
    assert s.values[:, 0, 2].tolist() == [-11, -4]
    assert s.index[1] == pd.Timestamp("2010-01-01 01:00")


@pytest.mark.realdata
def test_beijing_multisite_real_file(real_data):
    s = beijing_multisite.load(real_data)
    assert s.values.shape == (35064, 1, 11) and s.columns == ["Aotizhongxin"]
    missing = dict(zip(s.features, np.isnan(s.values[:, 0]).sum(0)))
    assert missing == {"PM2.5": 925, "PM10": 718, "SO2": 935, "NO2": 1023, "CO": 1776,
                       "O3": 1719, "TEMP": 20, "PRES": 20, "DEWP": 20, "RAIN": 20, "WSPM": 14}
    assert s.index[-1] == pd.Timestamp("2017-02-28 23:00")


@pytest.mark.realdata
@pytest.mark.parametrize("name,nodes,edges", [("pems04", 307, 340), ("pems08", 170, 277)])
def test_pems_sensor_graphs_real_files(real_data, name, nodes, edges):
    matrix = pems.adjacency(name, real_data)
    assert matrix.shape == (nodes, nodes)
    assert (matrix > 0).sum() == edges  # PEMS08 lists 18 of its 295 pairs twice
    frame = pd.read_csv(real_data / name / f"{name.upper()}.csv")
    first = frame.iloc[0]
    assert matrix[int(first["from"]), int(first["to"])] <= first["cost"]


def test_pems_npz_fixture(tmp_path):
    write_pems_npz(tmp_path, "pems08", steps=50)
    s = pems.INFOS["pems08"].load(tmp_path)
    assert s.values.shape == (50, 170, 3) and s.features == ["flow", "occupancy", "speed"]
    assert s.index[1] - s.index[0] == pd.Timedelta("5min")
    assert s.index[0] == pd.Timestamp("2016-07-01")


def test_pems_npz_wrong_shape_or_key(tmp_path):
    folder = tmp_path / "pems04"
    folder.mkdir()
    np.savez(folder / "PEMS04.npz", data=np.zeros((10, 300, 3)))
    with pytest.raises(DataError, match=r"\(T, 307, 3\)"):
        pems.INFOS["pems04"].load(tmp_path)
    np.savez(folder / "PEMS04.npz", flow=np.zeros((10, 307, 3)))
    with pytest.raises(DataError, match="no array 'data'"):
        pems.INFOS["pems04"].load(tmp_path)


def test_jena_zip_fixture(tmp_path):
    write_jena_zip(tmp_path, start="2009-01-01 00:10", days=2, drop_rows=())
    s = jena.load(tmp_path)
    assert s.values.shape == (288, 1, 14) and s.index[0] == pd.Timestamp("2009-01-01 00:10")
    assert s.unit_of("T (degC)") == "degC" and s.unit_of("rho (g/m**3)") == "g/m**3"
    with zipfile.ZipFile(tmp_path / jena.FILE.path) as zf:
        header = zf.open(jena.MEMBER).readline().decode()
    assert header.startswith('"Date Time","p (mbar)","T (degC)"')


def test_jena_bad_date_format(tmp_path):
    path = tmp_path / jena.FILE.path
    path.parent.mkdir(parents=True)
    header = ",".join(f'"{c}"' for c in ["Date Time", *jena.FEATURES])
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(jena.MEMBER, header + "\n2009-01-01 00:10," + ",".join(["1"] * 14) + "\n")
    with pytest.raises(DataError, match="dd.mm.yyyy"):
        jena.load(tmp_path)


def test_krakow_fixture_joins_the_months(tmp_path):
    write_krakow(tmp_path, sensors=(3, 142), gaps={3: [0, 1]})
    s = krakow.load(tmp_path)
    assert s.values.shape == (8760, 2, 6) and s.columns == ["3", "142"]
    assert s.index[0] == pd.Timestamp("2017-01-01 00:00")
    assert s.index[-1] == pd.Timestamp("2017-12-31 23:00")
    assert np.isnan(s.values[:2, 0]).all() and not np.isnan(s.values[2:, 0]).any()
    march = pd.read_csv(tmp_path / "krakow" / "march-2017.csv")
    t = s.index.get_loc(pd.Timestamp(march["UTC time"].iloc[0]))
    assert s.values[t, 1, 0] == march["142_temperature"].iloc[0]
    assert list(krakow.sensor_locations(tmp_path).columns) == ["id", "latitude", "longitude"]


def test_krakow_column_names_are_checked(tmp_path):
    write_krakow(tmp_path)
    path = tmp_path / "krakow" / "may-2017.csv"
    frame = pd.read_csv(path).rename(columns={"142_pm25": "142_pm2.5"})
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="<sensor id>_<temperature"):
        krakow.load(tmp_path)


def test_files_without_a_download_say_how_to_get_them(isolated):
    with pytest.raises(DataError, match="cannot be downloaded automatically.*kaggle.com"):
        registry.locate("krakow", data_dir=isolated, download=True)


def test_the_uci_header_variant_of_pm25_is_accepted(isolated):
    folder = isolated / "d" / "beijing_pm25"
    folder.mkdir(parents=True)
    data = b"the UCI original\n"
    (folder / "PRSA_data_2010.1.1-2014.12.31.csv").write_bytes(data)
    file = beijing_pm25.FILE
    other = registry.DataFile(file.path, file.url, file.sha256,
                              also_sha256=(hashlib.sha256(data).hexdigest(),))
    registry.verify(folder / "PRSA_data_2010.1.1-2014.12.31.csv", other, "beijing_pm25")
    with pytest.raises(DataError, match="sha256"):
        registry.verify(folder / "PRSA_data_2010.1.1-2014.12.31.csv", file, "beijing_pm25")


def test_every_forecast_source_is_registered_with_its_folder():
    names = registry.names("forecast")
    for name in ("beijing_pm25", "beijing_multisite", "pems04", "pems07", "pems08", "jena",
                 "krakow", "los_loop"):
        assert name in names
        for f in registry.get(name).files:
            assert f.path.split("/")[0] == name and f.url.startswith("https://")
