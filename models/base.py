"""The declarative base and the Flask-SQLAlchemy handle, in a module of their own so that
every model module imports them without going through the package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    # Type checkers see the declarative base itself (typed Mapped attributes); at run
    # time models subclass Flask-SQLAlchemy's `db.Model`, built from that same Base.
    class Model(Base):
        __abstract__ = True
else:
    Model = db.Model
